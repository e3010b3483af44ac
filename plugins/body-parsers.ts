import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { decodeUtf8, JsonBodyError, parseFormBody, parseJsonBody } from '../lib/json-body.js'
import { MalformedBodyError, UnsupportedContentEncodingError, ValidationError } from '../schemas/errors.js'
import { FORM_TYPE, JSON_TYPE, MERGE_PATCH_TYPE } from '../schemas/media-types.js'

const PARSERS = {
  [JSON_TYPE]: parseJsonBody,
  [FORM_TYPE]: parseFormBody,
  [MERGE_PATCH_TYPE]: parseJsonBody
}

export type MediaType = keyof typeof PARSERS

export interface BodyParserOptions {
  bodyLimit: number
  /** The only media types read in this context: any other is a 415. */
  mediaTypes: MediaType[]
}

const toClientError = (error: unknown): Error => {
  if (!(error instanceof JsonBodyError)) return error as Error
  return error.reason === 'malformed' ? new MalformedBodyError(error.message) : new ValidationError(error.message)
}

/**
 * The body's Content-Encoding, quoted, when it is not identity: nothing here decompresses,
 * and a compressed body read as JSON would only be a puzzling 400.
 */
function unsupportedEncoding (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const identity = header.split(',').every((coding) => {
    const name = coding.trim().toLowerCase()
    return name === '' || name === 'identity'
  })
  return identity ? undefined : JSON.stringify(header.slice(0, 100))
}

/** Replaces the context's body parsers with those of `mediaTypes`. */
async function bodyParsersPlugin (fastify: FastifyInstance, options: BodyParserOptions): Promise<void> {
  // The OpenAPI document lists these media types for every request body of the context,
  // unless a route names its own (`consumes`, read by @fastify/swagger).
  fastify.addHook('onRoute', (route) => {
    const schema = route.schema as { body?: unknown, consumes?: string[] } | undefined
    if (schema?.body !== undefined && schema.consumes === undefined) schema.consumes = [...options.mediaTypes]
  })

  fastify.removeAllContentTypeParsers()
  for (const type of options.mediaTypes) {
    const parse = PARSERS[type]
    // Read as bytes: decoded as a string, bytes that are not UTF-8 would become U+FFFD unseen.
    fastify.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: options.bodyLimit }, (request, body, done) => {
      let parsed: unknown
      try {
        const encoding = unsupportedEncoding(request.headers['content-encoding'])
        if (encoding !== undefined) throw new UnsupportedContentEncodingError(encoding)
        if (body.length === 0) throw new MalformedBodyError('The body is empty')
        parsed = parse(decodeUtf8(body as Buffer))
      } catch (error) {
        done(toClientError(error))
        return
      }
      done(null, parsed)
    })
  }
}

export default fp(bodyParsersPlugin, { name: 'preferences-body-parsers', fastify: '5.x' })
