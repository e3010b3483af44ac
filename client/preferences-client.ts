import type { ErrorBody } from '../schemas/error-body.js'
import type { PreferencesErrorCode } from '../schemas/error-catalogue.js'
import { PreferencesApiError } from './api-error.js'
import type { PreferencesClient } from './operations.js'
import type { PreferencesClientOptions, ReadOptions, UserRef, WriteOptions } from './options.js'
import { NOT_MODIFIED, PRECONDITION_FAILED } from './outcomes.js'
import type { ClientKeyRegistry, Untyped } from './typed.js'

// A small typed client over fetch, one method per operation (the interface, with each
// method's types, is in operations.ts). Its types are the TypeBox schemas' own (Static<...>):
// what the server validates is what the client accepts.

// The names this module has always exported, where they now live.
export type {
  CallOptions, ChangesOptions, EffectiveOptions, ImportOptions, ListOptions, PreferencesClientOptions, ReadOptions, SetDefaultOptions,
  SetOptions, UpdateOptions, UserRef, WriteOptions
} from './options.js'
export type { ChangesPage, KeyHistory, PreferencesClient, SetDefaultResult, SetResult, Updater } from './operations.js'

/** One HTTP exchange, as the operations describe it. */
interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  /** Below the base URL, starting with `/`. */
  path: string
  options: (ReadOptions & WriteOptions) | undefined
  /** Each defined value is a parameter; an array, that parameter repeated. */
  query?: Record<string, string | number | boolean | readonly string[] | undefined>
  body?: unknown
  /** The body's media type (default JSON). */
  type?: string
  /** The success statuses; any other answer throws (or is a conditional outcome). */
  ok: readonly number[]
  /**
   * When present, what the call resolves to on the API's 404 for a missing preference or
   * scope default ("not set" is an answer by key; a wrong baseUrl's 404 still throws).
   */
  absent?: unknown
}

/** A success answer, for an operation to make its result from. */
interface Answer { status: number, body: unknown, etag: string }

const tagged = (answer: Answer) => ({ ...answer.body as object, etag: answer.etag })
const bodyOf = (answer: Answer) => answer.body
const created = (answer: Answer) => ({ ...answer.body as object, created: answer.status === 201 })

function isErrorBody (body: unknown): body is ErrorBody {
  const b = body as Partial<ErrorBody> | null
  return b !== null && typeof b === 'object' && typeof b.code === 'string' && typeof b.message === 'string'
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

/** A key or a scope as one path segment. */
function segment (name: 'key' | 'scope', value: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string, got ${JSON.stringify(value)}`)
  // URL parsers drop "." and ".." path segments (percent-encoded too) before the server sees them.
  if (value === '.' || value === '..') {
    throw new TypeError(`the ${name} "${value}" cannot be a path segment${name === 'key' ? ': use list({ key }) and merge()' : ''}`)
  }
  return encodeURIComponent(value)
}

const keySegment = (key: string): string => `/by-key/${segment('key', key)}/`

// Missing things that are answers, not errors, where the caller named them by key.
const ABSENT_CODES: readonly string[] = ['PREFERENCE_NOT_FOUND', 'PREFERENCE_DEFAULT_NOT_FOUND']

/**
 * A client for the API at `options.baseUrl`. With the host's key registry as the type argument
 * (`createPreferencesClient<typeof keys>(...)`), values are typed key by key; the registry
 * itself is not needed at run time.
 */
export function createPreferencesClient<R extends ClientKeyRegistry = Untyped> (options: PreferencesClientOptions): PreferencesClient<R> {
  const base = String(options.baseUrl).replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? globalThis.fetch
  const defaultUser = options.userId ?? 'me'
  if (typeof fetchImpl !== 'function') throw new TypeError('no fetch: pass options.fetch')

  /** The path of the user's preferences (`rest` below them), for the call's user. */
  const mine = (o: { userId?: UserRef } | undefined, rest = '/'): string =>
    `/user/${userSegment(o?.userId ?? defaultUser)}/preference${rest}`
  /** The path of a scope's defaults, or of one of them. */
  const scopePath = (scope: string, key?: string): string =>
    `/preference-defaults/${segment('scope', scope)}${key === undefined ? '/' : keySegment(key)}`

  /**
   * Sends `c` and makes the result with `result`. T is what the operation's signature promises:
   * the answer's shape is the server's word (the contract test holds it to its OpenAPI document).
   */
  async function call<T> (c: Call, result: (answer: Answer) => unknown): Promise<T> {
    // A relative baseUrl (`/api/v2`) is the page's origin's, in a browser.
    const url = new URL(base + c.path, (globalThis as { location?: { href: string } }).location?.href)
    for (const [name, value] of Object.entries(c.query ?? {})) {
      for (const one of [value].flat()) if (one !== undefined) url.searchParams.append(name, String(one))
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
    if (conditional && status === 304 && c.method === 'GET') return NOT_MODIFIED as T
    let body: unknown = text
    if (/\bjson\b/i.test(response.headers.get('content-type') ?? '') && text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    }
    if (c.ok.includes(status) && (status === 204 || (typeof body === 'object' && body !== null))) {
      return result({ status, body, etag: response.headers.get('etag') ?? '' }) as T
    }
    if (isErrorBody(body)) {
      if (conditional && body.code === 'PREFERENCE_PRECONDITION_FAILED') return PRECONDITION_FAILED as T
      if ('absent' in c && status === 404 && ABSENT_CODES.includes(body.code)) return c.absent as T
      throw new PreferencesApiError(status, body.code as PreferencesErrorCode, body.message, body)
    }
    throw new PreferencesApiError(status, 'PREFERENCE_UNEXPECTED_RESPONSE',
      `Unexpected answer ${status} to ${c.method} ${url.pathname}`, body)
  }

  // An operation is one entry: its Call, and how its result is made from the answer. Typed
  // here without the registry: its types are only the signatures' (operations.ts).
  const client: PreferencesClient = {
    get: async (key, o) => call({ method: 'GET', path: mine(o, keySegment(key)), options: o, ok: [200], absent: undefined }, tagged),
    set: async (key, value, o) => call({ method: 'PUT', path: mine(o, keySegment(key)), options: o, body: { value }, ok: [200, 201] },
      (answer) => ({ ...tagged(answer), created: answer.status === 201 })),
    delete: async (key, o) => call({ method: 'DELETE', path: mine(o, keySegment(key)), options: o, ok: [204], absent: false }, () => true),
    update: async (key, fn, { retries = 3, ...o } = {}) => {
      for (let attempt = 0; ; attempt++) {
        const current = await client.get(key, o)
        // K stays generic in here: the values are the signature's (ValueOf<R, K>), not checked again.
        const value = await fn(current?.value as never, current as never)
        const written = await client.set(key, value, current === undefined ? { ...o, ifNoneMatch: '*' } : { ...o, ifMatch: current.etag })
        if (written !== PRECONDITION_FAILED) return written as never
        if (attempt >= retries) {
          throw new PreferencesApiError(412, 'PREFERENCE_PRECONDITION_FAILED',
            `"${key}" changed under each of ${attempt + 1} attempts to update it`)
        }
      }
    },
    history: async (key, o) => call({ method: 'GET', path: mine(o, `${keySegment(key)}history/`), options: o, ok: [200] }, bodyOf),
    merge: async (patch, o) =>
      call({ method: 'PATCH', path: mine(o), options: o, body: patch, type: 'application/merge-patch+json', ok: [200] }, bodyOf),
    effective: async (o) => call({ method: 'GET', path: mine(o, '/effective/'), options: o, query: { key: o?.key }, ok: [200] }, tagged),
    list: async (o) => call({
      method: 'GET',
      path: mine(o),
      options: o,
      query: { key: o?.key, search: o?.search, limit: o?.limit, offset: o?.offset },
      ok: [200]
    }, tagged),
    create: async (body, o) => call({ method: 'POST', path: mine(o), options: o, body, ok: [201] }, tagged),
    getById: async (id, o) => call({ method: 'GET', path: mine(o, idSegment(id)), options: o, ok: [200] }, tagged),
    patchById: async (id, patch, o) => call({ method: 'PATCH', path: mine(o, idSegment(id)), options: o, body: patch, ok: [200] }, tagged),
    replaceById: async (id, body, o) => call({ method: 'PUT', path: mine(o, idSegment(id)), options: o, body, ok: [200] }, tagged),
    deleteById: async (id, o) => call({ method: 'DELETE', path: mine(o, idSegment(id)), options: o, ok: [204] }, () => undefined),
    changes: async (o) => call({ method: 'GET', path: mine(o, '/changes/'), options: o, query: { since: o?.since, limit: o?.limit }, ok: [200] }, bodyOf),
    export: async (o) => call({ method: 'GET', path: mine(o, '/export/'), options: o, ok: [200] }, bodyOf),
    import: async (document, o) => call({
      method: 'POST', path: mine(o, '/import/'), options: o, query: { mode: o?.mode, dry_run: o?.dryRun }, body: document, ok: [200]
    }, bodyOf),
    erase: async (o) => call({ method: 'DELETE', path: mine(o), options: o, ok: [204] }, () => undefined),
    listDefaults: async (scope, o) => call({ method: 'GET', path: scopePath(scope), options: o, ok: [200] }, bodyOf),
    getDefault: async (scope, key, o) => call({ method: 'GET', path: scopePath(scope, key), options: o, ok: [200], absent: undefined }, bodyOf),
    setDefault: async (scope, key, value, o) => call({
      method: 'PUT', path: scopePath(scope, key), options: o, body: { value, locked: o?.locked }, ok: [200, 201]
    }, created),
    deleteDefault: async (scope, key, o) => call({ method: 'DELETE', path: scopePath(scope, key), options: o, ok: [204], absent: false }, () => true)
  }
  return client as PreferencesClient<never> as PreferencesClient<R>
}
