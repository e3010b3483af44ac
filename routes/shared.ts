import type { FastifyReply } from 'fastify'
import { MalformedBodyError, ValueTooLargeError } from '../schemas/errors.js'
import { PREFERENCES_SECURITY_SCHEME, PREFERENCES_TAG } from '../schemas/openapi.js'

/** What every route's schema says for the OpenAPI document, and whether it is listed there. */
export interface RouteDoc {
  hide: boolean
  tags: string[]
  security: Array<Record<string, string[]>>
}

const tags = [PREFERENCES_TAG]
const security = [{ [PREFERENCES_SECURITY_SCHEME]: [] }]

/**
 * Every path works with and without its trailing slash: `register` is called for both, and
 * the OpenAPI document lists the slashed form only.
 */
export function forBothSlashes (register: (slash: '/' | '', doc: RouteDoc) => void): void {
  register('/', { hide: false, tags, security })
  register('', { hide: true, tags, security })
}

/** The path of a preference by id under the mount prefix, with the real user id (never `me`). */
export const itemLocation = (prefix: string, userId: number, id: number): string =>
  `${prefix}/user/${userId}/preference/${id}/`

/**
 * 204 without a payload: Fastify then neither serialises one nor deletes the content headers
 * again (a reply.send(null) does both).
 */
export const sendNoContent = (reply: FastifyReply): FastifyReply => reply.code(204).send()

/**
 * The JSON text to store for a value: the client's own text when given (numbers keep their
 * digits), else JSON.stringify. A 413 when the text stored, or the JSON.stringify encoding if
 * that is longer, is over `maxValueBytes` bytes of UTF-8: the limit bounds what the database
 * keeps (1.000...0 or \u0061 escapes are kept as sent) and what a re-encoding could grow to
 * (1e300 becomes 1e+300). `what` names the value in error messages.
 */
export function encodeValue (value: unknown, maxValueBytes: number, what = 'The value', text?: string): string {
  let json: string
  try {
    json = JSON.stringify(value)
  } catch {
    throw new MalformedBodyError(`${what} is nested too deeply`)
  }
  const stored = text ?? json
  const bytes = stored === json ? Buffer.byteLength(json) : Math.max(Buffer.byteLength(stored), Buffer.byteLength(json))
  if (bytes > maxValueBytes) throw new ValueTooLargeError(what, bytes, maxValueBytes)
  return stored
}

/** Limits the preference routes apply. */
export interface PreferenceRouteOptions {
  maxValueBytes: number
  maxPreferencesPerUser: number
  maxPageSize: number
}
