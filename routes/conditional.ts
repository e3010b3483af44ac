import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Precondition } from '../db/preference-repository.js'
import { entityTagOf, ifMatchMatches, ifNoneMatchMatches, parseEntityTags } from '../lib/entity-tags.js'
import { jsonTextOf } from '../lib/json-text.js'
import { NotFoundError, PreconditionFailedError } from '../schemas/errors.js'
import type { Preference, PreferenceList } from '../schemas/preference.js'
import { effectiveViewJson, preferenceListJson } from '../schemas/preference-json.js'
import type { EffectiveView } from '../schemas/effective-view.js'

const quote = JSON.stringify

// ETags of what the routes answer, and the conditional request headers (RFC 9110 section 13).

/**
 * The strong ETag of one preference. It covers every field that can change (id, key, value
 * and last_updated_at, which every write sets), so it changes whenever the preference does.
 */
export function preferenceEtag (preference: Preference): string {
  return entityTagOf(`${preference.id}\n${quote(preference.key)}\n${preference.last_updated_at}\n${jsonTextOf(preference.value)}`)
}

/**
 * The strong ETag of a list page: a hash of its JSON, so it changes when any listed preference
 * does. The JSON is kept for the response serializer, which would otherwise build it again.
 */
export function listEtag (list: PreferenceList): string {
  return entityTagOf(preferenceListJson(list))
}

// A view the store reuses (its rows unchanged) keeps its ETag too.
const viewEtags = new WeakMap<EffectiveView, string>()

/** The strong ETag of an effective view: a hash of its JSON (kept for the serializer). */
export function effectiveEtag (view: EffectiveView): string {
  let etag = viewEtags.get(view)
  if (etag === undefined) {
    etag = entityTagOf(effectiveViewJson(view))
    viewEtags.set(view, etag)
  }
  return etag
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
