import type { ListPreferencesQuery } from '../schemas/preference.js'
import type { ImportMode } from '../schemas/portability.js'

// What the client and each of its calls take.

/** A user: a positive integer id, or `me` for the token's owner. */
export type UserRef = number | 'me'

export interface PreferencesClientOptions {
  /** The API's root with its mount prefix, e.g. `https://example.com/api/v2` (in a browser, `/api/v2` is the page's origin's). */
  baseUrl: string | URL
  /** The Bearer token, or a function that returns one for each request (to refresh it). */
  token?: string | (() => string | Promise<string>)
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof globalThis.fetch
  /** Whose preferences a call addresses when it does not say: default `me`. */
  userId?: UserRef
  /** Extra headers for every request. */
  headers?: Record<string, string>
}

/** What every call takes (a scope default's calls ignore `userId`). */
export interface CallOptions {
  /** Whose preferences (default: the client's `userId`, else `me`). Others' need an admin token. */
  userId?: UserRef
  /** Aborts the request. */
  signal?: AbortSignal
}

/** A read that may answer 304: one preference, the list, the effective view. */
export interface ReadOptions extends CallOptions {
  /** An `etag` from an earlier result (or `*`): resolves NOT_MODIFIED while it is still current. */
  ifNoneMatch?: string
}

/** A write to one preference (by key or by id). */
export interface WriteOptions extends CallOptions {
  /** The `etag` you read (or `*`): writes only if the preference is still that, else resolves PRECONDITION_FAILED. */
  ifMatch?: string
  /** `*`: only if the preference does not exist (create only), else resolves PRECONDITION_FAILED. */
  ifNoneMatch?: string
}

/** `set` may create: `ifNoneMatch: '*'` makes it create only. */
export type SetOptions = WriteOptions

export interface UpdateOptions extends CallOptions {
  /** How many times to read again and retry when another write came first (default 3). */
  retries?: number
}

export type ListOptions = ReadOptions & ListPreferencesQuery

export interface EffectiveOptions extends ReadOptions {
  /** Only these keys. */
  key?: string | readonly string[]
}

export interface ChangesOptions extends CallOptions {
  /** The last revision you have (default 0: from the start of what is kept). */
  since?: number
  /** At most this many revisions (1 to 1000, default 100); `next` is set when there are more. */
  limit?: number
}

export interface ImportOptions extends CallOptions {
  /** `merge` (default) keeps the keys the document lacks; `replace` deletes them. */
  mode?: ImportMode
  /** Report what would change, write nothing. */
  dryRun?: boolean
}

export interface SetDefaultOptions extends CallOptions {
  /** Every user under the scope gets this value whatever they stored, and may not write the key (default false). */
  locked?: boolean
}
