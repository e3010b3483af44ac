import type { ErrorBody } from '../schemas/error-body.js'
import type { PreferencesErrorCode } from '../schemas/error-catalogue.js'
import type {
  CreatePreferenceBody, ListPreferencesQuery, MergePatchResult, PatchPreferenceBody, Preference, PreferenceList
} from '../schemas/preference.js'
import type { ExportDocument, ImportBody, ImportMode, ImportReport } from '../schemas/portability.js'
import { PreferencesApiError } from './api-error.js'
import {
  type IfSent, NOT_MODIFIED, type NotModified, PRECONDITION_FAILED, type PreconditionFailed, type WithEtag
} from './outcomes.js'

// A small typed client over fetch, one method per operation. Its types are the TypeBox
// schemas' own (Static<...>): what the server validates is what the client accepts.

/** A user: a positive integer id, or `me` for the token's owner. */
export type UserRef = number | 'me'

export interface PreferencesClientOptions {
  /** The API's root with its mount prefix, e.g. `https://example.com/api/v2`. */
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

export interface CallOptions {
  /** Whose preferences (default: the client's `userId`, else `me`). Others' need an admin token. */
  userId?: UserRef
  /** Aborts the request. */
  signal?: AbortSignal
}

/** A read that may answer 304. */
export interface ReadOptions extends CallOptions {
  /** An `etag` from an earlier result (or `*`): resolves NOT_MODIFIED while it is still current. */
  ifNoneMatch?: string
}

/** A write to one existing preference. */
export interface WriteOptions extends CallOptions {
  /** The `etag` you read (or `*`): writes only if the preference is still that, else resolves PRECONDITION_FAILED. */
  ifMatch?: string
}

/** `set` may also create. */
export interface SetOptions extends WriteOptions {
  /** `*`: create only; resolves PRECONDITION_FAILED when the key exists. */
  ifNoneMatch?: string
}

export interface UpdateOptions extends CallOptions {
  /** How many times to read again and retry when another write came first (default 3). */
  retries?: number
}

export type ListOptions = ReadOptions & ListPreferencesQuery

export interface ImportOptions extends CallOptions {
  /** `merge` (default) keeps the keys the document lacks; `replace` deletes them. */
  mode?: ImportMode
  /** Report what would change, write nothing. */
  dryRun?: boolean
}

/** What `set` and `update` resolve to: the stored preference, and whether this call created it. */
export type SetResult = WithEtag<Preference> & { created: boolean }

/**
 * Computes the new value from the stored one (`undefined` when the key is not set). It may run
 * more than once: keep it free of side effects.
 */
export type Updater = (value: unknown, current: WithEtag<Preference> | undefined) => unknown

/**
 * Methods by key first (what a frontend mostly needs), then by id. A conditional option adds its
 * outcome to the result type: `get(key, { ifNoneMatch })` may resolve NOT_MODIFIED, a write with
 * `ifMatch` PRECONDITION_FAILED; without them these cannot happen and are not in the type.
 */
export interface PreferencesClient {
  /** GET by-key/{key}/: the preference, or `undefined` when the key is not set. */
  get: <O extends ReadOptions = CallOptions>(key: string, options?: O) =>
  Promise<WithEtag<Preference> | undefined | IfSent<O, 'ifNoneMatch', NotModified>>
  /** PUT by-key/{key}/: creates or replaces the value; `created` tells which. */
  set: <O extends SetOptions = CallOptions>(key: string, value: unknown, options?: O) =>
  Promise<SetResult | IfSent<O, 'ifMatch' | 'ifNoneMatch', PreconditionFailed>>
  /** DELETE by-key/{key}/: `true`, or `false` when the key was not set. */
  delete: <O extends WriteOptions = CallOptions>(key: string, options?: O) =>
  Promise<boolean | IfSent<O, 'ifMatch', PreconditionFailed>>
  /**
   * Read, compute, write with `ifMatch` (or create-only when absent); on a 412, again from the
   * read, at most `retries` times, then a PreferencesApiError PREFERENCE_PRECONDITION_FAILED.
   */
  update: (key: string, fn: Updater, options?: UpdateOptions) => Promise<SetResult>
  /**
   * PATCH of the collection with an RFC 7396 merge patch (`null` deletes a key, an object merges
   * into a stored object). All or nothing. The results carry no ETag: the server sends none.
   */
  merge: (patch: Record<string, unknown>, options?: CallOptions) => Promise<MergePatchResult>
  /** GET of the collection: one page (`key`, `search`, `limit`, `offset`). */
  list: <O extends ListOptions = CallOptions>(options?: O) =>
  Promise<WithEtag<PreferenceList> | IfSent<O, 'ifNoneMatch', NotModified>>
  /** POST of the collection: 201, the new preference (a PreferencesApiError 409 when the key exists). */
  create: (body: CreatePreferenceBody, options?: CallOptions) => Promise<WithEtag<Preference>>
  /** GET {id}/ (a PreferencesApiError 404 when there is none). */
  getById: <O extends ReadOptions = CallOptions>(id: number, options?: O) =>
  Promise<WithEtag<Preference> | IfSent<O, 'ifNoneMatch', NotModified>>
  /** PATCH {id}/: changes `key` and/or `value`. */
  patchById: <O extends WriteOptions = CallOptions>(id: number, patch: PatchPreferenceBody, options?: O) =>
  Promise<WithEtag<Preference> | IfSent<O, 'ifMatch', PreconditionFailed>>
  /** PUT {id}/: replaces both; never creates. */
  replaceById: <O extends WriteOptions = CallOptions>(id: number, body: CreatePreferenceBody, options?: O) =>
  Promise<WithEtag<Preference> | IfSent<O, 'ifMatch', PreconditionFailed>>
  /** DELETE {id}/ (a PreferencesApiError 404 when there is none). */
  deleteById: <O extends WriteOptions = CallOptions>(id: number, options?: O) =>
  Promise<undefined | IfSent<O, 'ifMatch', PreconditionFailed>>
  /** GET export/: every preference of the user, as a document `import` takes back. */
  export: (options?: CallOptions) => Promise<ExportDocument>
  /** POST import/: an export document (of any user) or `{ preferences }`; all or nothing; the sorted report. */
  import: (document: ImportBody | ExportDocument, options?: ImportOptions) => Promise<ImportReport>
  /** DELETE of the collection: erases every preference of the user and their history. */
  erase: (options?: CallOptions) => Promise<undefined>
}

/** One HTTP exchange, as the operations describe it. */
interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  /** Below /user/{user_id}/preference, starting with `/`. */
  path: string
  options: (ReadOptions & SetOptions) | undefined
  query?: Record<string, string | number | undefined>
  body?: unknown
  /** The body's media type (default JSON). */
  type?: string
  /** The success statuses; any other answer throws (or is a conditional outcome). */
  ok: readonly number[]
}

/** A success answer, for an operation to make its result from. */
interface Answer { status: number, body: unknown, etag: string }

const tagged = (answer: Answer) => ({ ...answer.body as object, etag: answer.etag })
const bodyOf = (answer: Answer) => answer.body

function isErrorBody (body: unknown): body is ErrorBody {
  const b = body as Partial<ErrorBody> | null
  return b !== null && typeof b === 'object' && typeof b.code === 'string' && typeof b.message === 'string'
}

/** `value` in place of a 404 PREFERENCE_NOT_FOUND (only the API's: a wrong baseUrl still throws). */
async function unlessNotFound<T, V> (promise: Promise<T>, value: V): Promise<T | V> {
  try {
    return await promise
  } catch (error) {
    if (error instanceof PreferencesApiError && error.code === 'PREFERENCE_NOT_FOUND') return value
    throw error
  }
}

function userSegment (user: UserRef): string {
  if (user !== 'me' && !(Number.isSafeInteger(user) && user > 0)) {
    throw new TypeError(`userId must be a positive integer or "me", got ${JSON.stringify(user)}`)
  }
  return String(user)
}

function idSegment (id: number): string {
  if (!(Number.isSafeInteger(id) && id > 0)) throw new TypeError(`id must be a positive integer, got ${JSON.stringify(id)}`)
  return `/${id}/`
}

function keySegment (key: string): string {
  if (typeof key !== 'string' || key === '') throw new TypeError(`key must be a non-empty string, got ${JSON.stringify(key)}`)
  // URL parsers drop "." and ".." path segments (percent-encoded too) before the server sees them.
  if (key === '.' || key === '..') throw new TypeError(`the key "${key}" cannot be a path segment: use list({ key }) and merge()`)
  return `/by-key/${encodeURIComponent(key)}/`
}

export function createPreferencesClient (options: PreferencesClientOptions): PreferencesClient {
  const base = String(options.baseUrl).replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? globalThis.fetch
  const defaultUser = options.userId ?? 'me'
  if (typeof fetchImpl !== 'function') throw new TypeError('no fetch: pass options.fetch')

  /**
   * Sends `c` and makes the result with `result`. R is what the operation's signature promises:
   * the answer's shape is the server's word (the contract test holds it to its OpenAPI document).
   */
  async function call<R> (c: Call, result: (answer: Answer) => unknown): Promise<R> {
    const url = new URL(`${base}/user/${userSegment(c.options?.userId ?? defaultUser)}/preference${c.path}`)
    for (const [name, value] of Object.entries(c.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value))
    }
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
    const token = typeof options.token === 'function' ? await options.token() : options.token
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    if (c.body !== undefined) headers['content-type'] = c.type ?? 'application/json'
    const conditions = { 'if-match': c.options?.ifMatch, 'if-none-match': c.options?.ifNoneMatch }
    let conditional = false
    for (const [name, value] of Object.entries(conditions)) {
      if (value === undefined) continue
      // An etag of '' is one that could not be read; sending no header would drop the check.
      if (value === '') throw new TypeError(`${name} is empty: the ETag was not readable (cross-origin, the API must expose it: Access-Control-Expose-Headers: ETag)`)
      headers[name] = value
      conditional = true
    }

    const response = await fetchImpl(url, {
      method: c.method,
      headers,
      ...(c.body !== undefined && { body: JSON.stringify(c.body) }),
      ...(c.options?.signal !== undefined && { signal: c.options.signal })
    })
    const text = await response.text()
    const { status } = response
    if (conditional && status === 304 && c.method === 'GET') return NOT_MODIFIED as R
    let body: unknown = text
    if (/\bjson\b/i.test(response.headers.get('content-type') ?? '') && text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    }
    if (c.ok.includes(status) && (status === 204 || (typeof body === 'object' && body !== null))) {
      return result({ status, body, etag: response.headers.get('etag') ?? '' }) as R
    }
    if (isErrorBody(body)) {
      if (conditional && body.code === 'PREFERENCE_PRECONDITION_FAILED') return PRECONDITION_FAILED as R
      throw new PreferencesApiError(status, body.code as PreferencesErrorCode, body.message, body)
    }
    throw new PreferencesApiError(status, 'PREFERENCE_UNEXPECTED_RESPONSE',
      `Unexpected answer ${status} to ${c.method} ${url.pathname}`, body)
  }

  // An operation is one entry: its Call, and how its result is made from the answer.
  const client: PreferencesClient = {
    get: async (key, o) => unlessNotFound(call({ method: 'GET', path: keySegment(key), options: o, ok: [200] }, tagged), undefined),
    set: async (key, value, o) => call({ method: 'PUT', path: keySegment(key), options: o, body: { value }, ok: [200, 201] },
      (answer) => ({ ...tagged(answer), created: answer.status === 201 })),
    delete: async (key, o) => unlessNotFound(call({ method: 'DELETE', path: keySegment(key), options: o, ok: [204] }, () => true), false),
    update: async (key, fn, { retries = 3, ...o } = {}) => {
      for (let attempt = 0; ; attempt++) {
        const current = await client.get(key, o)
        const value = await fn(current?.value, current)
        const written = await client.set(key, value, current === undefined ? { ...o, ifNoneMatch: '*' } : { ...o, ifMatch: current.etag })
        if (written !== PRECONDITION_FAILED) return written
        if (attempt >= retries) {
          throw new PreferencesApiError(412, 'PREFERENCE_PRECONDITION_FAILED',
            `"${key}" changed under each of ${attempt + 1} attempts to update it`)
        }
      }
    },
    merge: async (patch, o) =>
      call({ method: 'PATCH', path: '/', options: o, body: patch, type: 'application/merge-patch+json', ok: [200] }, bodyOf),
    list: async (o) => call({
      method: 'GET',
      path: '/',
      options: o,
      query: { key: o?.key, search: o?.search, limit: o?.limit, offset: o?.offset },
      ok: [200]
    }, tagged),
    create: async (body, o) => call({ method: 'POST', path: '/', options: o, body, ok: [201] }, tagged),
    getById: async (id, o) => call({ method: 'GET', path: idSegment(id), options: o, ok: [200] }, tagged),
    patchById: async (id, patch, o) => call({ method: 'PATCH', path: idSegment(id), options: o, body: patch, ok: [200] }, tagged),
    replaceById: async (id, body, o) => call({ method: 'PUT', path: idSegment(id), options: o, body, ok: [200] }, tagged),
    deleteById: async (id, o) => call({ method: 'DELETE', path: idSegment(id), options: o, ok: [204] }, () => undefined),
    export: async (o) => call({ method: 'GET', path: '/export/', options: o, ok: [200] }, bodyOf),
    import: async (document, o) => call({
      method: 'POST', path: '/import/', options: o, query: { mode: o?.mode, dry_run: o?.dryRun === undefined ? undefined : String(o.dryRun) }, body: document, ok: [200]
    }, bodyOf),
    erase: async (o) => call({ method: 'DELETE', path: '/', options: o, ok: [204] }, () => undefined)
  }
  return client
}
