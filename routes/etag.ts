import { hash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Precondition } from '../db/preferences.js'
import { NotFoundError, PreconditionFailedError } from '../errors.js'
import { jsonTextOf } from '../schemas/json-text.js'
import type { Preference, PreferenceList } from '../schemas/preference.js'
import { preferenceListJson } from '../plugins/serialization.js'

const quote = JSON.stringify

// Entity tags and the conditional request headers of RFC 9110 section 13.

// crypto.hash: one call, without the stream object createHash() builds for every tag.
const quotedHash = (text: string): string => `"${hash('sha1', text, 'base64url')}"`

/**
 * The strong ETag of one preference. It covers every field that can change (id, key, value
 * and last_updated_at, which every write sets), so it changes whenever the preference does.
 */
export function preferenceEtag (preference: Preference): string {
  return quotedHash(`${preference.id}\n${quote(preference.key)}\n${preference.last_updated_at}\n${jsonTextOf(preference.value)}`)
}

/**
 * The strong ETag of a list page: a hash of its JSON, so it changes when any listed preference
 * does. The JSON is kept for the response serializer, which would otherwise build it again.
 */
export function listEtag (list: PreferenceList): string {
  return quotedHash(preferenceListJson(list))
}

interface EntityTag {
  weak: boolean
  /** With its quotes, e.g. "abc". */
  opaque: string
}

/** `*` or a list of entity tags; null when the header is not of that form. */
export function parseEntityTags (header: string): '*' | EntityTag[] | null {
  if (header.trim() === '*') return '*'
  const tags: EntityTag[] = []
  const element = /\s*(W\/)?("[\x21\x23-\x7E\x80-\xFF]*")\s*(,|$)/y
  let match: RegExpExecArray | null
  while (element.lastIndex < header.length && (match = element.exec(header)) !== null) {
    tags.push({ weak: match[1] !== undefined, opaque: match[2] })
    if (match[3] === '') break
  }
  return element.lastIndex === header.length || header.trim() === '' ? tags : null
}

/** If-Match (strong comparison): `*` or one listed strong tag equal to `current`. */
export function ifMatchMatches (header: string, current: string): boolean {
  const tags = parseEntityTags(header)
  if (tags === '*') return true
  return tags !== null && tags.some((tag) => !tag.weak && tag.opaque === current)
}

/** If-None-Match (weak comparison): `*`, or one listed tag with the same opaque part as `current`. */
export function ifNoneMatchMatches (header: string, current: string): boolean {
  const tags = parseEntityTags(header)
  if (tags === '*') return true
  return tags !== null && tags.some((tag) => tag.opaque === current)
}

const header = (request: FastifyRequest, name: 'if-match' | 'if-none-match'): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/** True when a GET may be answered 304: If-None-Match matches the current ETag. */
export function notModified (request: FastifyRequest, etag: string): boolean {
  const ifNoneMatch = header(request, 'if-none-match')
  return ifNoneMatch !== undefined && ifNoneMatchMatches(ifNoneMatch, etag)
}

/** 304 with no body at all (no Content-Length, no Content-Type); the ETag header stays. */
export function sendNotModified (reply: FastifyReply): FastifyReply {
  return reply.code(304).send()
}

/**
 * The answer to a GET of one preference: a 404 when there is none, else the preference with
 * its ETag, or a 304 when If-None-Match already holds that ETag.
 */
export function replyWithPreference (
  request: FastifyRequest, reply: FastifyReply, preference: Preference | undefined
): FastifyReply | Preference {
  if (preference === undefined) throw new NotFoundError()
  const etag = preferenceEtag(preference)
  reply.header('etag', etag)
  return notModified(request, etag) ? sendNotModified(reply) : preference
}

/**
 * The preconditions of a PATCH, PUT or DELETE, as a check the repository runs on the stored
 * preference inside the writing transaction (undefined: the preference does not exist), or
 * undefined when the request has none. The check throws PREFERENCE_PRECONDITION_FAILED.
 */
export function writePrecondition (request: FastifyRequest): Precondition | undefined {
  const ifMatch = header(request, 'if-match')
  const ifNoneMatch = header(request, 'if-none-match')
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined
  return (current) => {
    const etag = current === undefined ? undefined : preferenceEtag(current)
    if (ifMatch !== undefined) {
      if (etag === undefined) {
        throw new PreconditionFailedError('If-Match was sent but the preference does not exist')
      }
      if (!ifMatchMatches(ifMatch, etag)) {
        throw new PreconditionFailedError('The preference has changed: If-Match does not match its current ETag')
      }
    }
    if (ifNoneMatch !== undefined && etag !== undefined && ifNoneMatchMatches(ifNoneMatch, etag)) {
      throw new PreconditionFailedError(parseEntityTags(ifNoneMatch) === '*'
        ? 'The preference exists: If-None-Match: * only allows creating it'
        : 'If-None-Match matches the preference\'s current ETag')
    }
  }
}
