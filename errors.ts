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
/** Arguments: the limit, then the rest of the sentence (which key does not fit, or why). */
export const LimitReachedError = createError(
  'PREFERENCE_LIMIT_REACHED', 'A user may hold at most %d preferences%s', 409)
/** Argument: what did not match (If-Match, If-None-Match). */
export const PreconditionFailedError = createError(
  'PREFERENCE_PRECONDITION_FAILED', '%s', 412)
/** Arguments: "The value" or "The value of \"key\"", its size, the limit. */
export const ValueTooLargeError = createError(
  'PREFERENCE_VALUE_TOO_LARGE', '%s is %d bytes as compact JSON; the limit is %d', 413)
export const BodyTooLargeError = createError(
  'PREFERENCE_BODY_TOO_LARGE', 'The request body is larger than the limit of %d bytes', 413)
/** Arguments: the Content-Type received, then what the route accepts. */
export const UnsupportedMediaTypeError = createError(
  'PREFERENCE_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Type %s: send %s', 415)
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

/** A code the API sends, or the client's own for an answer that is not the API's. */
export type PreferencesErrorCode = keyof typeof ERROR_CODES | 'PREFERENCE_UNEXPECTED_RESPONSE'

const ApiErrorBase = createError<string, [string]>('PREFERENCE_UNEXPECTED_RESPONSE', '%s')

/**
 * What the client (`fastify-user-preferences/client`) throws for an error answer: the HTTP
 * `status`, the API's `code` (see ERROR_CODES; `PREFERENCE_UNEXPECTED_RESPONSE` when the answer
 * is not one of the API's, e.g. from a proxy) and its `message`.
 */
export class PreferencesApiError extends ApiErrorBase {
  /** The HTTP status of the answer (also in `statusCode`). */
  readonly status: number
  declare code: PreferencesErrorCode | (string & {})
  /** The answer's body: the API's error object, or the text of an unexpected answer. */
  readonly body: unknown

  constructor (status: number, code: string, message: string, body?: unknown) {
    super(message)
    this.name = 'PreferencesApiError'
    this.status = status
    this.statusCode = status
    this.code = code
    this.body = body
  }
}
