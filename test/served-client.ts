import type { Test } from 'tap'
import { buildApp } from '../server/app.js'
import {
  createPreferencesClient, PRECONDITION_FAILED, PreferencesApiError, type ClientKeyRegistry, type PreferencesClient,
  type PreferencesClientOptions
} from '../client/index.js'
import type { PreferencesPluginOptions } from '../options/plugin-options.js'
import { contractOf } from './contract.js'
import { freshDatabaseUrl, SECRET, token } from './helper.js'

// The client against the real standalone server, over HTTP on a free port, for the client's
// tests. Every answer it receives is also checked against the server's OpenAPI document.

export const ETAG = /^"[A-Za-z0-9_-]{27}"$/

export interface Served<R extends ClientKeyRegistry> {
  baseUrl: string
  fetch: typeof fetch
  /** `METHOD path?query` of every request, in order. */
  calls: string[]
  /** A client for user `userId` (default 5) on this server, through the checked fetch. */
  as: (userId?: number) => PreferencesClient<R>
  /** A client on this server with a token of one's own (an admin's, one with groups...). */
  withToken: (token: string, options?: Partial<PreferencesClientOptions>) => PreferencesClient<R>
}

/** The standalone server with the plugin options `plugin`, listening on a free port until the test ends. */
export async function serve<R extends ClientKeyRegistry> (
  test: Test, plugin: Partial<PreferencesPluginOptions> = { maxValueBytes: 64 }
): Promise<Served<R>> {
  const app = await buildApp({ jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(test), logger: false, plugin })
  test.after(() => app.close())
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  const contract = contractOf(app)
  const calls: string[] = []
  // A fetch of our own: it proves the option is used, bounds each request in time and checks
  // each answer against the contract.
  const checkedFetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const method = init?.method ?? 'GET'
    calls.push(`${method} ${url.pathname}${url.search}`)
    const response = await fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(10_000) })
    const payload = await response.clone().text()
    const headers = Object.fromEntries(response.headers.entries())
    for (const problem of contract.problems(method, url.pathname, { statusCode: response.status, headers, payload })) {
      test.fail(`contract: ${problem}`)
    }
    return response
  }
  const baseUrl = `${address}/api/v2`
  const withToken = (bearer: string, options?: Partial<PreferencesClientOptions>) =>
    createPreferencesClient<R>({ baseUrl, token: bearer, fetch: checkedFetch, ...options })
  return { baseUrl, fetch: checkedFetch, calls, as: (userId = 5) => withToken(token(userId)), withToken }
}

/** Expects `promise` to reject with a PreferencesApiError of `status` and `code`. */
export async function apiError (
  test: Test, promise: Promise<unknown>, status: number, code: string, what: string
): Promise<PreferencesApiError | undefined> {
  try {
    await promise
    test.fail(`${what}: expected ${status} ${code}, but it succeeded`)
    return undefined
  } catch (error) {
    test.ok(error instanceof PreferencesApiError, `${what}: a PreferencesApiError`)
    test.match(error, { status, statusCode: status, code, name: 'PreferencesApiError' }, `${what}: ${status} ${code}`)
    return error as PreferencesApiError
  }
}

/** The result of a conditional write that must have been written. */
export function written<T> (result: T | typeof PRECONDITION_FAILED): T {
  if (result === PRECONDITION_FAILED) throw new Error('a write with the current ETag was refused')
  return result
}
