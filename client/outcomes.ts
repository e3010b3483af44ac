// The answers of conditional requests that are not errors, and the types that put them in a
// method's result only when the call sent the header that can cause them.

/**
 * What a GET with `ifNoneMatch` resolves to on a 304: the copy you have is current. A
 * registered symbol, so that two copies of the client bundled into one page agree on it.
 */
export const NOT_MODIFIED: unique symbol = Symbol.for('fastify-user-preferences.not-modified')
export type NotModified = typeof NOT_MODIFIED

/**
 * What a write with `ifMatch` (or `ifNoneMatch`) resolves to on a 412: another write came
 * first, nothing was written. Read again, re-apply the change, write with the new ETag.
 */
export const PRECONDITION_FAILED: unique symbol = Symbol.for('fastify-user-preferences.precondition-failed')
export type PreconditionFailed = typeof PRECONDITION_FAILED

/**
 * A result and the ETag the server sent with it, to pass back as `ifMatch` or `ifNoneMatch`.
 * `''` when the answer's ETag header could not be read (a cross-origin API that does not list
 * ETag in Access-Control-Expose-Headers): a conditional option set to `''` is a TypeError.
 */
export type WithEtag<T> = T & { etag: string }

/**
 * `Outcome` when the options `O` (each member of a union) name one of the headers `K` with a
 * value that may be set, else nothing: `get(key)` cannot answer NOT_MODIFIED, `get(key, { ifNoneMatch })` can.
 */
export type IfSent<O, K extends PropertyKey, Outcome> = O extends unknown
  ? K extends keyof O ? ([O[K]] extends [undefined] ? never : Outcome) : never
  : never
