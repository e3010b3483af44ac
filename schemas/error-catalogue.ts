// Every failure the API can answer with: its code, status and message. Declared here once;
// the error classes (errors.ts) and the client's code type come from it, and a test holds the
// README's table to it. Codes are part of the public contract: never rename one.
// Plain data with no imports, so that the browser client can take its types.

export const ERROR_CATALOGUE = {
  PREFERENCE_AUTH_REQUIRED: { status: 401, message: 'Authentication required: send an Authorization: Bearer <token> header' },
  PREFERENCE_AUTH_INVALID: { status: 401, message: 'Invalid token: %s' },
  PREFERENCE_FORBIDDEN: { status: 403, message: 'You may only act on your own preferences unless you are an admin' },
  PREFERENCE_INVALID_PATH_PARAMETER: { status: 400, message: '%s' },
  PREFERENCE_VALIDATION_FAILED: { status: 400, message: '%s' },
  PREFERENCE_MALFORMED_BODY: { status: 400, message: '%s' },
  PREFERENCE_KEY_UNKNOWN: { status: 400, message: 'The key %s is not registered, and this store accepts registered keys only' },
  PREFERENCE_VALUE_INVALID: { status: 400, message: 'The value of %s does not match its schema: %s' },
  PREFERENCE_EMPTY_PATCH: { status: 400, message: 'A PATCH body needs at least one of "key" and "value"' },
  PREFERENCE_KEY_READ_ONLY: { status: 403, message: 'Only an admin may change %s' },
  PREFERENCE_KEY_LOCKED: { status: 403, message: '%s is locked by the %s scope' },
  // The host's code (its hooks, auth.mapCaller) threw a 4xx without a code: it keeps that status.
  PREFERENCE_REQUEST_REJECTED: { status: 400, message: '%s' },
  PREFERENCE_NOT_FOUND: { status: 404, message: 'Preference not found' },
  PREFERENCE_DEFAULT_NOT_FOUND: { status: 404, message: 'No default for this key in this scope' },
  PREFERENCE_ROUTE_NOT_FOUND: { status: 404, message: 'There is no route %s %s in this API' },
  PREFERENCE_METHOD_NOT_ALLOWED: { status: 405, message: '%s is not allowed on %s; allowed: %s' },
  PREFERENCE_CHANGES_EXPIRED: { status: 410, message: 'Revision %d is %s: list the preferences again (the current revision is %d)' },
  PREFERENCE_KEY_EXISTS: { status: 409, message: 'A preference with key "%s" already exists for this user' },
  PREFERENCE_LIMIT_REACHED: { status: 409, message: 'A user may hold at most %d preferences%s' },
  PREFERENCE_PRECONDITION_FAILED: { status: 412, message: '%s' },
  PREFERENCE_VALUE_TOO_LARGE: { status: 413, message: '%s is %d bytes as compact JSON; the limit is %d' },
  PREFERENCE_BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the limit of %d bytes' },
  PREFERENCE_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported Content-Type %s: send %s' },
  PREFERENCE_TOO_MANY_STREAMS: { status: 429, message: 'This user already has %d open event streams' },
  PREFERENCE_UNSUPPORTED_CONTENT_ENCODING: { status: 415, message: 'Unsupported Content-Encoding %s: send the body uncompressed (no Content-Encoding, or identity)' },
  PREFERENCE_RATE_LIMITED: { status: 429, message: 'Too many requests: retry in %s' },
  PREFERENCE_INTERNAL_ERROR: { status: 500, message: 'Internal Server Error' },
  PREFERENCE_DATABASE_UNAVAILABLE: { status: 503, message: 'The database is unavailable; try again shortly' },
  PREFERENCE_WRITE_QUEUE_FULL: { status: 503, message: 'The server already has %d writes waiting for the database; try again shortly' },
  // With a shared Redis, a stream is opened only once it is counted there.
  PREFERENCE_STREAMS_UNAVAILABLE: { status: 503, message: 'Event streams cannot be opened right now; try again shortly' }
} as const satisfies Record<string, { status: number, message: string }>

/** A code the API answers with. */
export type PreferencesErrorCode = keyof typeof ERROR_CATALOGUE

/** The status of each code. */
export const ERROR_CODES = Object.fromEntries(
  Object.entries(ERROR_CATALOGUE).map(([code, { status }]) => [code, status])
) as { readonly [C in PreferencesErrorCode]: typeof ERROR_CATALOGUE[C]['status'] }
