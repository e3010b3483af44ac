import createError from '@fastify/error'
import { ERROR_CATALOGUE, type PreferencesErrorCode } from './error-catalogue.js'

// The API's errors as classes (thrown, then shaped by the plugin's error handler), each made
// from its catalogue entry. `Args` are the values of the message's %s/%d placeholders.

function declare<C extends PreferencesErrorCode, Args extends unknown[] = []> (code: C) {
  const { status, message } = ERROR_CATALOGUE[code]
  return createError<C, typeof status, Args>(code, message, status)
}

export const AuthRequiredError = declare('PREFERENCE_AUTH_REQUIRED')
/** Argument: why the token was rejected. */
export const AuthInvalidError = declare<'PREFERENCE_AUTH_INVALID', [string]>('PREFERENCE_AUTH_INVALID')
export const ForbiddenError = declare('PREFERENCE_FORBIDDEN')
export const InvalidPathParameterError = declare<'PREFERENCE_INVALID_PATH_PARAMETER', [string]>('PREFERENCE_INVALID_PATH_PARAMETER')
export const ValidationError = declare<'PREFERENCE_VALIDATION_FAILED', [string]>('PREFERENCE_VALIDATION_FAILED')
export const MalformedBodyError = declare<'PREFERENCE_MALFORMED_BODY', [string]>('PREFERENCE_MALFORMED_BODY')
/** Argument: the key, quoted. */
export const KeyUnknownError = declare<'PREFERENCE_KEY_UNKNOWN', [string]>('PREFERENCE_KEY_UNKNOWN')
/** Arguments: the key, quoted, then where and why the value fails. */
export const ValueInvalidError = declare<'PREFERENCE_VALUE_INVALID', [string, string]>('PREFERENCE_VALUE_INVALID')
/** Argument: the key, quoted. */
export const KeyReadOnlyError = declare<'PREFERENCE_KEY_READ_ONLY', [string]>('PREFERENCE_KEY_READ_ONLY')
/** Arguments: the key, quoted, then the scope that locks it. */
export const KeyLockedError = declare<'PREFERENCE_KEY_LOCKED', [string, string]>('PREFERENCE_KEY_LOCKED')
export const DefaultNotFoundError = declare('PREFERENCE_DEFAULT_NOT_FOUND')
/** Arguments: the revision asked for, why it cannot be served ("no longer kept", "beyond the current one"), the current revision. */
export const ChangesExpiredError = declare<'PREFERENCE_CHANGES_EXPIRED', [number, string, number]>('PREFERENCE_CHANGES_EXPIRED')
/** Argument: the limit. */
export const TooManyStreamsError = declare<'PREFERENCE_TOO_MANY_STREAMS', [number]>('PREFERENCE_TOO_MANY_STREAMS')
/** The streams open across instances cannot be counted (Redis did not answer). */
export const StreamsUnavailableError = declare('PREFERENCE_STREAMS_UNAVAILABLE')
export const EmptyPatchError = declare('PREFERENCE_EMPTY_PATCH')
export const NotFoundError = declare('PREFERENCE_NOT_FOUND')
/** Arguments: the method and the path (under the plugin's prefix, where nothing answers). */
export const RouteNotFoundError = declare<'PREFERENCE_ROUTE_NOT_FOUND', [string, string]>('PREFERENCE_ROUTE_NOT_FOUND')
/** Arguments: the method, the path, the methods allowed there (also in the Allow header). */
export const MethodNotAllowedError = declare<'PREFERENCE_METHOD_NOT_ALLOWED', [string, string, string]>('PREFERENCE_METHOD_NOT_ALLOWED')
/** Argument: the key. */
export const KeyExistsError = declare<'PREFERENCE_KEY_EXISTS', [string]>('PREFERENCE_KEY_EXISTS')
/** Arguments: the limit, then the rest of the sentence (which key does not fit, or why). */
export const LimitReachedError = declare<'PREFERENCE_LIMIT_REACHED', [number, string]>('PREFERENCE_LIMIT_REACHED')
/** Argument: what did not match (If-Match, If-None-Match). */
export const PreconditionFailedError = declare<'PREFERENCE_PRECONDITION_FAILED', [string]>('PREFERENCE_PRECONDITION_FAILED')
/** Arguments: "The value" or "The value of \"key\"", its size, the limit. */
export const ValueTooLargeError = declare<'PREFERENCE_VALUE_TOO_LARGE', [string, number, number]>('PREFERENCE_VALUE_TOO_LARGE')
/** Argument: the limit. */
export const BodyTooLargeError = declare<'PREFERENCE_BODY_TOO_LARGE', [number]>('PREFERENCE_BODY_TOO_LARGE')
/** Arguments: the Content-Type received, then what the route accepts. */
export const UnsupportedMediaTypeError = declare<'PREFERENCE_UNSUPPORTED_MEDIA_TYPE', [string, string]>('PREFERENCE_UNSUPPORTED_MEDIA_TYPE')
/** Argument: the Content-Encoding received. */
export const UnsupportedContentEncodingError = declare<'PREFERENCE_UNSUPPORTED_CONTENT_ENCODING', [string]>('PREFERENCE_UNSUPPORTED_CONTENT_ENCODING')
/**
 * Argument: the host's message. For a 4xx the host's code (a hook, auth.mapCaller) threw
 * without a code of its own; its statusCode is set to the host's.
 */
export const RequestRejectedError = declare<'PREFERENCE_REQUEST_REJECTED', [string]>('PREFERENCE_REQUEST_REJECTED')
/** Argument: when to retry, in words. */
export const RateLimitedError = declare<'PREFERENCE_RATE_LIMITED', [string]>('PREFERENCE_RATE_LIMITED')
export const InternalError = declare('PREFERENCE_INTERNAL_ERROR')
export const DatabaseUnavailableError = declare('PREFERENCE_DATABASE_UNAVAILABLE')
/** Argument: how many writes may wait (SQLite's group commit queue). */
export const WriteQueueFullError = declare<'PREFERENCE_WRITE_QUEUE_FULL', [number]>('PREFERENCE_WRITE_QUEUE_FULL')

/** Thrown at registration when the plugin's options are wrong; never reaches a client. */
export const InvalidOptionError = createError<'PREFERENCE_INVALID_OPTION', 500, [string]>(
  'PREFERENCE_INVALID_OPTION', 'Invalid preferences plugin option: %s', 500)
