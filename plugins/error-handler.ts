/// <reference path="./fastify-internal.d.ts" />
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import { ERROR_CODES } from '../schemas/error-catalogue.js'
import {
  AuthInvalidError, BodyTooLargeError, DatabaseUnavailableError, ForbiddenError, InternalError, MalformedBodyError,
  RequestRejectedError, UnsupportedMediaTypeError, ValidationError
} from '../schemas/errors.js'

const DEFAULT_ACCEPTS = 'application/json or application/x-www-form-urlencoded'

function unsupportedMediaType (request: FastifyRequest, received?: string): FastifyError {
  const type = received ?? JSON.stringify(String(request.headers['content-type'] ?? '(none)').slice(0, 100))
  return new UnsupportedMediaTypeError(type, request.routeOptions.config?.preferencesAccepts ?? DEFAULT_ACCEPTS)
}

// Fastify's own client errors, renamed into this API's documented codes.
const FASTIFY_CLIENT_ERRORS: Record<string, (error: FastifyError, request: FastifyRequest) => FastifyError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (_, request) => unsupportedMediaType(request),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new MalformedBodyError('Content-Length does not match the body'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new MalformedBodyError('The body is empty'),
  FST_ERR_CTP_EMPTY_TYPE: (_, request) => unsupportedMediaType(request, '""'),
  FST_ERR_CTP_INVALID_TYPE: (_, request) => unsupportedMediaType(request)
}

// Connection-level failures: the database is away, not the request wrong.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006', 'SQLITE_BUSY', 'SQLITE_LOCKED',
  // statement_timeout: the server gave up waiting (a lock, an overloaded server).
  '57014'
])

function isDatabaseUnavailable (error: Error & { code?: unknown }): boolean {
  if (typeof error.code === 'string' && UNAVAILABLE_CODES.has(error.code)) return true
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i
    .test(error.message)
}

/**
 * A 4xx without a code, from the host's code (a hook of its own, auth.mapCaller, an error
 * from @fastify/sensible): its status and message stay, with a code, as every answer has one.
 */
function hostRejection (status: number, message: string): FastifyError {
  if (status === 401) return new AuthInvalidError(message)
  const error: FastifyError = status === 403 ? new ForbiddenError() : new RequestRejectedError(message)
  error.statusCode = status
  error.message = message
  return error
}

/** Turns anything thrown into an error a client may see. */
export function toClientError (error: FastifyError, request: FastifyRequest): FastifyError {
  if (error.validation !== undefined) {
    // No body at all (no Content-Type, nothing sent) is the same mistake as an empty one.
    if (error.validationContext === 'body' && request.body === undefined) return new MalformedBodyError('The body is empty')
    return new ValidationError(error.message)
  }
  if (typeof error.code === 'string') {
    if (error.code in ERROR_CODES) return error
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return new BodyTooLargeError(request.routeOptions.bodyLimit ?? 0)
    }
    const rename = FASTIFY_CLIENT_ERRORS[error.code]
    if (rename !== undefined) return rename(error, request)
  }
  if (isDatabaseUnavailable(error)) return new DatabaseUnavailableError()
  const status = error.statusCode ?? 500
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    // Other 4xx (Fastify's, the host's) keep their code and message; one without a code gets one.
    return typeof error.code === 'string' && error.code !== '' ? error : hostRejection(status, error.message)
  }
  return new InternalError()
}

async function errorHandlerPlugin (fastify: FastifyInstance): Promise<void> {
  fastify.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const clientError = toClientError(error, request)
    const statusCode = clientError.statusCode ?? 500
    if (statusCode >= 500) {
      request.log.error({ err: error }, 'preferences: request failed')
    } else {
      request.log.info({ code: clientError.code, statusCode }, clientError.message)
    }
    if (statusCode === 401) {
      reply.header('www-authenticate', clientError.code === 'PREFERENCE_AUTH_REQUIRED'
        ? 'Bearer realm="preferences"'
        : 'Bearer realm="preferences", error="invalid_token"')
    }
    if (statusCode === 503) reply.header('retry-after', '1')
    return reply.code(statusCode).send({
      statusCode,
      code: clientError.code,
      error: STATUS_CODES[statusCode] ?? 'Error',
      message: clientError.message
    })
  })
}

export default fp(errorHandlerPlugin, { name: 'preferences-error-handler', fastify: '5.x' })
