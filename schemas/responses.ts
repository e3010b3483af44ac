import { type TSchema, Type } from '@sinclair/typebox'
import { ErrorSchema } from './error-body.js'
import { PreferenceSchema } from './preference.js'

export function withDescription<T extends TSchema> (schema: T, description: string): T {
  return { ...schema, description }
}

export const error = (description: string) => withDescription(ErrorSchema, description)

/** Error responses every authenticated route can give. */
export const authErrorResponses = {
  400: error('Malformed path parameter, query string or body (PREFERENCE_INVALID_PATH_PARAMETER, PREFERENCE_VALIDATION_FAILED, PREFERENCE_MALFORMED_BODY, PREFERENCE_EMPTY_PATCH), a value the key registry refuses (PREFERENCE_VALUE_INVALID, PREFERENCE_KEY_UNKNOWN), or refused by the host\'s own code (PREFERENCE_REQUEST_REJECTED)'),
  401: error('No token, or a token that is not valid (PREFERENCE_AUTH_REQUIRED, PREFERENCE_AUTH_INVALID)'),
  403: error('The caller is neither {user_id} nor an admin (PREFERENCE_FORBIDDEN), or, not being an admin, writes a key only admins may write (PREFERENCE_KEY_READ_ONLY) or one a scope locks (PREFERENCE_KEY_LOCKED)'),
  429: error('Only with the rateLimit option: the caller used up its budget; Retry-After says when to retry (PREFERENCE_RATE_LIMITED)'),
  500: error('Unexpected failure; details are in the server log (PREFERENCE_INTERNAL_ERROR)'),
  503: error('The database is unreachable (PREFERENCE_DATABASE_UNAVAILABLE), or, on SQLite, too many writes are already waiting for it (PREFERENCE_WRITE_QUEUE_FULL); Retry-After says when to retry')
}

export const notFoundResponse = { 404: error('No such preference for this user (PREFERENCE_NOT_FOUND)') }
export const conflictResponse = { 409: error('The key exists for this user (PREFERENCE_KEY_EXISTS), or the user is at the limit (PREFERENCE_LIMIT_REACHED)') }
export const bodyErrorResponses = {
  413: error('The value or the body is too large (PREFERENCE_VALUE_TOO_LARGE, PREFERENCE_BODY_TOO_LARGE)'),
  415: error('Content-Type is not application/json or application/x-www-form-urlencoded (PREFERENCE_UNSUPPORTED_MEDIA_TYPE), or Content-Encoding is not identity (PREFERENCE_UNSUPPORTED_CONTENT_ENCODING)')
}
export const mergePatchBodyErrorResponses = {
  413: error('A value (after merging) or the body is too large (PREFERENCE_VALUE_TOO_LARGE, PREFERENCE_BODY_TOO_LARGE); the message names the key'),
  415: error('Content-Type is not application/merge-patch+json (PREFERENCE_UNSUPPORTED_MEDIA_TYPE), or Content-Encoding is not identity (PREFERENCE_UNSUPPORTED_CONTENT_ENCODING)')
}

const ETAG_HEADER = {
  ETag: Type.String({ description: 'Strong entity tag of the preference; send it back in If-Match or If-None-Match' })
}

/** A 200/201 preference response that carries an ETag (and, for 201, a Location). */
export function preferenceResponse (description: string, location = false): typeof PreferenceSchema {
  return {
    ...PreferenceSchema,
    description,
    headers: {
      ...ETAG_HEADER,
      ...(location && {
        location: Type.String({
          description: 'Path of the preference by id, under the mount prefix, with the real user id (never `me`)',
          example: '/api/v2/user/1/preference/1/'
        })
      })
    }
  }
}

/** A 200 response other than one preference that carries an ETag (the list). */
export function withEtag<T extends TSchema> (schema: T, description: string): T {
  return {
    ...schema,
    description,
    headers: { ETag: Type.String({ description: 'Strong entity tag of this response; changes when any listed preference does' }) }
  }
}

export const notModifiedResponse = {
  304: Type.Null({ description: 'Not Modified: If-None-Match matches the current ETag; no body' })
}
export const preconditionFailedResponse = {
  412: error('If-Match does not match the current ETag, or If-None-Match does (PREFERENCE_PRECONDITION_FAILED)')
}

/** What a GET of one preference answers (by id or by key). */
export const readPreferenceResponses = {
  200: preferenceResponse('The preference'),
  ...notModifiedResponse,
  ...authErrorResponses,
  ...notFoundResponse
}

/** 201 from a create: the Preference, its ETag and a Location header. */
export const createdResponse = preferenceResponse('Created; `Location` names the new preference', true)

/** Error responses of the scope defaults routes. */
export const scopeErrorResponses = {
  ...authErrorResponses,
  400: error('A malformed {scope} or {key}, or a body or value that is refused (PREFERENCE_INVALID_PATH_PARAMETER, PREFERENCE_VALIDATION_FAILED, PREFERENCE_MALFORMED_BODY, PREFERENCE_VALUE_INVALID, PREFERENCE_KEY_UNKNOWN)'),
  403: error('Reading a group\'s scope without being a member or an admin, writing without being an admin (or allowed by canManageScope) (PREFERENCE_FORBIDDEN), or writing a key only admins may write (PREFERENCE_KEY_READ_ONLY)')
}

export const defaultNotFoundResponse = { 404: error('No default for this key in this scope (PREFERENCE_DEFAULT_NOT_FOUND)') }
