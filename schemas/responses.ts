import type { TSchema } from '@sinclair/typebox'
import { ErrorSchema } from './error.js'
import { PreferenceSchema } from './preference.js'

export function withDescription<T extends TSchema> (schema: T, description: string): T {
  return { ...schema, description }
}

interface HeaderSchema { type: 'string', description: string, example: string }

/** 201 from a create: the Preference, and a Location header (documented by @fastify/swagger). */
export const createdResponse: typeof PreferenceSchema & { headers: Record<string, HeaderSchema> } = {
  ...withDescription(PreferenceSchema, 'Created; `Location` names the new preference'),
  headers: {
    location: {
      type: 'string',
      description: 'Path of the new preference, under the mount prefix, with the real user id (never `me`)',
      example: '/api/v2/user/1/preference/1/'
    }
  }
}

const error = (description: string) => withDescription(ErrorSchema, description)

/** Error responses every authenticated route can give. */
export const authErrorResponses = {
  400: error('Malformed path parameter, query string or body (PREFERENCE_INVALID_PATH_PARAMETER, PREFERENCE_VALIDATION_FAILED, PREFERENCE_MALFORMED_BODY, PREFERENCE_EMPTY_PATCH)'),
  401: error('No token, or a token that is not valid (PREFERENCE_AUTH_REQUIRED, PREFERENCE_AUTH_INVALID)'),
  403: error('The caller is neither {user_id} nor an admin (PREFERENCE_FORBIDDEN)'),
  500: error('Unexpected failure; details are in the server log (PREFERENCE_INTERNAL_ERROR)'),
  503: error('The database is unreachable; retry (PREFERENCE_DATABASE_UNAVAILABLE)')
}

export const notFoundResponse = { 404: error('No such preference for this user (PREFERENCE_NOT_FOUND)') }
export const conflictResponse = { 409: error('The key exists for this user (PREFERENCE_KEY_EXISTS), or the user is at the limit (PREFERENCE_LIMIT_REACHED)') }
export const bodyErrorResponses = {
  413: error('The value or the body is too large (PREFERENCE_VALUE_TOO_LARGE, PREFERENCE_BODY_TOO_LARGE)'),
  415: error('Content-Type is not application/json or application/x-www-form-urlencoded (PREFERENCE_UNSUPPORTED_MEDIA_TYPE)')
}
