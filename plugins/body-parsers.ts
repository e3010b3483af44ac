import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { MalformedBodyError } from '../errors.js'

/** The request bodies this API reads; anything else is a 415. */
export const ACCEPTED_CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded']

export interface BodyParserOptions {
  bodyLimit: number
}

/** JSON text to a value, with a message that does not echo the body back. */
export function parseJsonText (text: string, what = 'The body'): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new MalformedBodyError(`${what} is not valid JSON`)
  }
}

/**
 * A form body is either fields (`key=...&value=<JSON text>`) or, as the original API's
 * examples send it, a whole JSON document under the form content type.
 */
export function parseFormBody (text: string): unknown {
  const trimmed = text.trimStart()
  if (trimmed.startsWith('{')) return parseJsonText(trimmed)
  const fields = new URLSearchParams(text)
  const body: Record<string, unknown> = Object.create(null)
  for (const name of new Set(fields.keys())) {
    const values = fields.getAll(name)
    // A repeated field is kept as a list so that validation rejects it instead of guessing.
    if (name === 'value') {
      body.value = values.length === 1 ? parseJsonText(values[0], 'The form field "value"') : values
    } else {
      body[name] = values.length === 1 ? values[0] : values
    }
  }
  return body
}

async function bodyParsersPlugin (fastify: FastifyInstance, options: BodyParserOptions): Promise<void> {
  // The OpenAPI document lists the parsers below as the media types of every request body,
  // unless a route names its own (`consumes`, read by @fastify/swagger).
  fastify.addHook('onRoute', (route) => {
    const schema = route.schema as { body?: unknown, consumes?: string[] } | undefined
    if (schema?.body !== undefined && schema.consumes === undefined) schema.consumes = [...ACCEPTED_CONTENT_TYPES]
  })

  // Only what this API accepts: anything else is answered 415 by Fastify.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: options.bodyLimit },
    (_request: FastifyRequest, body: string | Buffer, done) => {
      try {
        done(null, parseJsonText(body.toString()))
      } catch (error) {
        done(error as Error)
      }
    })
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: options.bodyLimit },
    (_request: FastifyRequest, body: string | Buffer, done) => {
      try {
        done(null, parseFormBody(body.toString()))
      } catch (error) {
        done(error as Error)
      }
    })
}

export default fp(bodyParsersPlugin, { name: 'preferences-body-parsers', fastify: '5.x' })
