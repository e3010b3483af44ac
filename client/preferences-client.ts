import type { ErrorBody } from '../schemas/error-body.js'
import type { PreferencesErrorCode } from '../schemas/error-catalogue.js'
import type {
  CreatePreferenceBody, ListPreferencesQuery, PatchPreferenceBody, Preference, PreferenceList
} from '../schemas/preference.js'
import { PreferencesApiError } from './api-error.js'

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

export type ListOptions = CallOptions & ListPreferencesQuery

export interface PreferencesClient {
  /** POST /user/{user_id}/preference/: 201, the new preference. */
  create: (body: CreatePreferenceBody, options?: CallOptions) => Promise<Preference>
  /** GET /user/{user_id}/preference/: one page (`key`, `search`, `limit`, `offset`). */
  list: (options?: ListOptions) => Promise<PreferenceList>
  /** GET /user/{user_id}/preference/{id}/. */
  get: (id: number, options?: CallOptions) => Promise<Preference>
  /** PATCH /user/{user_id}/preference/{id}/: change `key` and/or `value`. */
  update: (id: number, patch: PatchPreferenceBody, options?: CallOptions) => Promise<Preference>
  /** PUT /user/{user_id}/preference/{id}/: replace both; never creates. */
  replace: (id: number, body: CreatePreferenceBody, options?: CallOptions) => Promise<Preference>
  /** DELETE /user/{user_id}/preference/{id}/. */
  delete: (id: number, options?: CallOptions) => Promise<void>
}

/** One HTTP exchange, as the operations describe it. */
interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  /** Below /user/{user_id}/preference, starting with `/`. */
  path: string
  options: CallOptions | undefined
  query?: Record<string, string | number | undefined>
  body?: unknown
  /** The success statuses; any other answer throws. */
  expect: readonly number[]
}

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
  return String(id)
}

export function createPreferencesClient (options: PreferencesClientOptions): PreferencesClient {
  const base = String(options.baseUrl).replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? globalThis.fetch
  const defaultUser = options.userId ?? 'me'
  if (typeof fetchImpl !== 'function') throw new TypeError('no fetch: pass options.fetch')

  async function call<T> (c: Call): Promise<T> {
    const url = new URL(`${base}/user/${userSegment(c.options?.userId ?? defaultUser)}/preference${c.path}`)
    for (const [name, value] of Object.entries(c.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value))
    }
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
    const token = typeof options.token === 'function' ? await options.token() : options.token
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    if (c.body !== undefined) headers['content-type'] = 'application/json'

    const response = await fetchImpl(url, {
      method: c.method,
      headers,
      ...(c.body !== undefined && { body: JSON.stringify(c.body) }),
      ...(c.options?.signal !== undefined && { signal: c.options.signal })
    })
    const text = await response.text()
    let body: unknown = text
    if (/\bjson\b/i.test(response.headers.get('content-type') ?? '') && text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    }
    if (c.expect.includes(response.status) && (response.status === 204 || typeof body === 'object')) {
      return (response.status === 204 ? undefined : body) as T
    }
    if (isErrorBody(body)) throw new PreferencesApiError(response.status, body.code as PreferencesErrorCode, body.message, body)
    throw new PreferencesApiError(response.status, 'PREFERENCE_UNEXPECTED_RESPONSE',
      `Unexpected answer ${response.status} to ${c.method} ${url.pathname}`, body)
  }

  // New operations (by key, bulk) are one more entry each: a Call and its result type.
  return {
    create: async (body, o) => call<Preference>({ method: 'POST', path: '/', options: o, body, expect: [201] }),
    list: async (o = {}) => call<PreferenceList>({
      method: 'GET',
      path: '/',
      options: o,
      query: { key: o.key, search: o.search, limit: o.limit, offset: o.offset },
      expect: [200]
    }),
    get: async (id, o) => call<Preference>({ method: 'GET', path: `/${idSegment(id)}/`, options: o, expect: [200] }),
    update: async (id, patch, o) => call<Preference>({ method: 'PATCH', path: `/${idSegment(id)}/`, options: o, body: patch, expect: [200] }),
    replace: async (id, body, o) => call<Preference>({ method: 'PUT', path: `/${idSegment(id)}/`, options: o, body, expect: [200] }),
    delete: async (id, o) => call<undefined>({ method: 'DELETE', path: `/${idSegment(id)}/`, options: o, expect: [204] })
  }
}
