import createError from '@fastify/error'

// Every failure the API can answer with, made once. The `code`s are part of the public
// contract (README, OpenAPI): never rename one.

export const AuthRequiredError = createError(
  'PREFERENCE_AUTH_REQUIRED', 'Authentication required: send an Authorization: Bearer <token> header', 401)
export const AuthInvalidError = createError(
  'PREFERENCE_AUTH_INVALID', 'Invalid token: %s', 401)
export const ForbiddenError = createError(
  'PREFERENCE_FORBIDDEN', 'You may only act on your own preferences unless you are an admin', 403)
export const InvalidPathParameterError = createError(
  'PREFERENCE_INVALID_PATH_PARAMETER', '%s', 400)
export const ValidationError = createError(
  'PREFERENCE_VALIDATION_FAILED', '%s', 400)
export const MalformedBodyError = createError(
  'PREFERENCE_MALFORMED_BODY', '%s', 400)
export const EmptyPatchError = createError(
  'PREFERENCE_EMPTY_PATCH', 'A PATCH body needs at least one of "key" and "value"', 400)
export const NotFoundError = createError(
  'PREFERENCE_NOT_FOUND', 'Preference not found', 404)
export const KeyExistsError = createError(
  'PREFERENCE_KEY_EXISTS', 'A preference with key "%s" already exists for this user', 409)
export const LimitReachedError = createError(
  'PREFERENCE_LIMIT_REACHED', 'This user already holds the maximum of %d preferences', 409)
export const PreconditionFailedError = createError(
  'PREFERENCE_PRECONDITION_FAILED', 'The preference has changed: If-Match does not match its current ETag', 412)
export const ValueTooLargeError = createError(
  'PREFERENCE_VALUE_TOO_LARGE', 'The value is %d bytes as compact JSON; the limit is %d', 413)
export const BodyTooLargeError = createError(
  'PREFERENCE_BODY_TOO_LARGE', 'The request body is larger than the limit of %d bytes', 413)
export const UnsupportedMediaTypeError = createError(
  'PREFERENCE_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Type %s: send application/json or application/x-www-form-urlencoded', 415)
export const RateLimitedError = createError(
  'PREFERENCE_RATE_LIMITED', 'Too many requests: retry in %s', 429)
export const DatabaseUnavailableError = createError(
  'PREFERENCE_DATABASE_UNAVAILABLE', 'The database is unavailable; try again shortly', 503)
export const InternalError = createError(
  'PREFERENCE_INTERNAL_ERROR', 'Internal Server Error', 500)

/** Thrown at registration when the plugin's options are wrong; never reaches a client. */
export const InvalidOptionError = createError(
  'PREFERENCE_INVALID_OPTION', 'Invalid preferences plugin option: %s', 500)

/** Code, status and meaning of every error a client can receive, for docs and tests. */
export const ERROR_CODES = {
  PREFERENCE_AUTH_REQUIRED: 401,
  PREFERENCE_AUTH_INVALID: 401,
  PREFERENCE_FORBIDDEN: 403,
  PREFERENCE_INVALID_PATH_PARAMETER: 400,
  PREFERENCE_VALIDATION_FAILED: 400,
  PREFERENCE_MALFORMED_BODY: 400,
  PREFERENCE_EMPTY_PATCH: 400,
  PREFERENCE_NOT_FOUND: 404,
  PREFERENCE_KEY_EXISTS: 409,
  PREFERENCE_LIMIT_REACHED: 409,
  PREFERENCE_PRECONDITION_FAILED: 412,
  PREFERENCE_VALUE_TOO_LARGE: 413,
  PREFERENCE_BODY_TOO_LARGE: 413,
  PREFERENCE_UNSUPPORTED_MEDIA_TYPE: 415,
  PREFERENCE_RATE_LIMITED: 429,
  PREFERENCE_INTERNAL_ERROR: 500,
  PREFERENCE_DATABASE_UNAVAILABLE: 503
} as const

/** Thrown at start-up when an environment variable is wrong; printed, then the process exits. */
export const InvalidConfigError = createError(
  'PREFERENCE_INVALID_CONFIG', 'Invalid configuration: %s', 500)
