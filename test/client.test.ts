import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { buildApp } from '../server/app.js'
import { createPreferencesClient } from '../client/index.js'
import { PreferencesApiError } from '../client/index.js'
import { contractOf } from './contract.js'
import { adminToken, freshDatabaseUrl, SECRET, token } from './helper.js'

// The typed client against the real standalone server, over HTTP on a free port. Every
// answer it receives is also checked against the server's OpenAPI document.

async function serve (t: Test): Promise<{ baseUrl: string, fetch: typeof fetch, calls: string[] }> {
  const app = await buildApp({
    jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(t), logger: false, plugin: { maxValueBytes: 64 }
  })
  t.after(() => app.close())
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
      t.fail(`contract: ${problem}`)
    }
    return response
  }
  return { baseUrl: `${address}/api/v2`, fetch: checkedFetch, calls }
}

async function apiError (t: Test, promise: Promise<unknown>, status: number, code: string, what: string): Promise<PreferencesApiError | undefined> {
  try {
    await promise
    t.fail(`${what}: expected ${status} ${code}, but it succeeded`)
    return undefined
  } catch (error) {
    t.ok(error instanceof PreferencesApiError, `${what}: a PreferencesApiError`)
    t.match(error, { status, statusCode: status, code, name: 'PreferencesApiError' }, `${what}: ${status} ${code}`)
    return error as PreferencesApiError
  }
}

t.test('every operation, typed, against the real server', async (t) => {
  const { baseUrl, fetch, calls } = await serve(t)
  const client = createPreferencesClient({ baseUrl, token: token(5), fetch })

  const created = await client.create({ key: 'theme', value: { mode: 'dark', sizes: [1, 2] } })
  t.match(created, { user_id: 5, key: 'theme', value: { mode: 'dark', sizes: [1, 2] } })
  t.type(created.id, 'number')
  t.match(created.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const second = await client.create({ key: 'lang', value: 'fr' })
  await client.create({ key: 'tour', value: null })

  t.same(await client.get(created.id), created)
  const page = await client.list({ limit: 2 })
  t.equal(page.count, 3)
  t.same(page.results.map((p) => p.key), ['theme', 'lang'])
  t.match(page.next, /offset=2/)
  t.equal(page.previous, null)
  t.same((await client.list({ key: 'lang' })).results, [second], 'filtered by key')
  t.same((await client.list({ offset: 2 })).results.map((p) => p.key), ['tour'])

  const updated = await client.update(created.id, { value: { mode: 'light' } })
  t.match(updated, { id: created.id, key: 'theme', value: { mode: 'light' } })
  const renamed = await client.update(created.id, { key: 'colours' })
  t.match(renamed, { key: 'colours', value: { mode: 'light' } })
  const replaced = await client.replace(second.id, { key: 'language', value: 'de' })
  t.match(replaced, { id: second.id, key: 'language', value: 'de' })

  t.equal(await client.delete(second.id), undefined)
  await apiError(t, client.get(second.id), 404, 'PREFERENCE_NOT_FOUND', 'deleted')

  t.same(calls.slice(0, 3), ['POST /api/v2/user/me/preference/', 'POST /api/v2/user/me/preference/', 'POST /api/v2/user/me/preference/'],
    'through the given fetch, with the canonical paths')
  t.ok(calls.includes('GET /api/v2/user/me/preference/?limit=2'))
})

t.test('error answers become PreferencesApiError with the API\'s code', async (t) => {
  const { baseUrl, fetch } = await serve(t)
  const client = createPreferencesClient({ baseUrl, token: token(5), fetch })
  const p = await client.create({ key: 'k', value: 1 })

  const exists = await apiError(t, client.create({ key: 'k', value: 2 }), 409, 'PREFERENCE_KEY_EXISTS', 'a duplicate key')
  t.match(exists?.message, /"k" already exists/)
  t.match(exists?.body, { statusCode: 409, code: 'PREFERENCE_KEY_EXISTS', error: 'Conflict' }, 'the API\'s error object')
  await apiError(t, client.create({ key: '', value: 1 }), 400, 'PREFERENCE_VALIDATION_FAILED', 'an empty key')
  await apiError(t, client.update(p.id, {}), 400, 'PREFERENCE_EMPTY_PATCH', 'an empty patch')
  await apiError(t, client.create({ key: 'big', value: 'x'.repeat(100) }), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'over maxValueBytes')
  await apiError(t, client.get(p.id + 1000), 404, 'PREFERENCE_NOT_FOUND', 'no such id')
  await apiError(t, client.list({ userId: 6 }), 403, 'PREFERENCE_FORBIDDEN', 'someone else\'s')
  await apiError(t, client.replace(p.id, { key: 'x', value: 1 }, { userId: 6 }), 403, 'PREFERENCE_FORBIDDEN', 'someone else\'s, PUT')

  const anonymous = createPreferencesClient({ baseUrl, fetch })
  await apiError(t, anonymous.list(), 401, 'PREFERENCE_AUTH_REQUIRED', 'no token')
  const forged = createPreferencesClient({ baseUrl, fetch, token: token({ sub: 5, secret: 'not-the-server-secret' }) })
  await apiError(t, forged.get(p.id), 401, 'PREFERENCE_AUTH_INVALID', 'a token with another secret')

  // An admin acts for user 5 (userId per call or per client); a token from a function.
  let asked = 0
  const admin = createPreferencesClient({ baseUrl, fetch, userId: 5, token: async () => { asked++; return adminToken(99) } })
  t.same((await admin.list()).results.map((x) => x.key), ['k'])
  t.match(await admin.create({ key: 'by admin', value: true }, { userId: 7 }), { user_id: 7 })
  t.equal(asked, 2, 'the token function is called per request')

  // Wrong ids are the caller's bug: thrown before any request.
  await t.rejects(client.get(0), TypeError)
  await t.rejects(client.list({ userId: -1 }), TypeError)
})

t.test('an answer that is not the API\'s: PREFERENCE_UNEXPECTED_RESPONSE', async (t) => {
  const { baseUrl } = await serve(t)
  const wrongBase = createPreferencesClient({ baseUrl: baseUrl.replace('/api/v2', '/nothing-here'), token: token(1) })
  const notFound = await apiError(t, wrongBase.list({ signal: AbortSignal.timeout(10_000) }), 404,
    'PREFERENCE_UNEXPECTED_RESPONSE', 'a path outside the API (the global fetch)')
  t.match(notFound?.message, /Unexpected answer 404 to GET \/nothing-here\/user\/me\/preference\//)

  // A server that is not this API at all, as a proxy's error page would be.
  const proxy = createServer((_request, response) => {
    response.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>')
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => proxy.close(resolve)))
  const { port } = proxy.address() as AddressInfo
  const proxied = createPreferencesClient({ baseUrl: `http://127.0.0.1:${port}/api/v2`, token: token(1) })
  const bad = await apiError(t, proxied.get(1, { signal: AbortSignal.timeout(10_000) }), 502,
    'PREFERENCE_UNEXPECTED_RESPONSE', 'an HTML error page')
  t.equal(bad?.body, '<html>bad gateway</html>')
})
