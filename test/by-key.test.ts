import type { FastifyInstance } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { API_PREFIX, buildApp } from '../server/app.js'
import { adminToken, bearer, build, client, PREFIX, SECRET, token } from './helper.js'

// By-key paths carry a percent-encoded key; a host needs a large maxParamLength for them.
const server = { routerOptions: { maxParamLength: 4096 } }
const ETAG = /^"[A-Za-z0-9_-]{27}"$/
const byKey = (key: string, userId: number | string = 'me') =>
  `/user/${userId}/preference/by-key/${encodeURIComponent(key)}/`

t.test('PUT creates (201, Location, ETag), PUT again replaces (200), GET reads, DELETE deletes', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(3))

  const created = await c.request('PUT', byKey('theme'), { value: { mode: 'dark' } })
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.match(body, { user_id: 3, key: 'theme', value: { mode: 'dark' } })
  t.equal(body.last_updated_at, body.created_at)
  t.equal(created.headers.location, `${PREFIX}/user/3/preference/${body.id}/`)
  t.match(created.headers.etag, ETAG)
  t.same((await rows()).map((r) => [Number(r.id), Number(r.user_id), r.key, r.value]),
    [[body.id, 3, 'theme', '{"mode":"dark"}']])

  const replaced = await c.request('PUT', byKey('theme'), { value: ['light', 2], key: 'ignored', id: 99 })
  t.equal(replaced.statusCode, 200)
  t.notOk(replaced.headers.location, 'no Location when nothing was created')
  t.match(replaced.headers.etag, ETAG)
  t.not(replaced.headers.etag, created.headers.etag, 'a new value is a new ETag')
  t.match(replaced.json(), { id: body.id, key: 'theme', value: ['light', 2], created_at: body.created_at })
  t.ok(replaced.json().last_updated_at >= body.created_at)
  t.same((await rows()).map((r) => [Number(r.id), r.key, r.value]), [[body.id, 'theme', '["light",2]']])

  const read = await c.request('GET', byKey('theme'))
  t.equal(read.statusCode, 200)
  t.same(read.json(), replaced.json())
  t.equal(read.headers.etag, replaced.headers.etag)

  const deleted = await c.request('DELETE', byKey('theme'))
  t.equal(deleted.statusCode, 204)
  t.equal(deleted.body, '')
  t.same(await rows(), [])
})

t.test('PUT on an existing key moves last_updated_at forward and keeps created_at', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(3))
  const created = (await c.request('PUT', byKey('layout'), { value: 1 })).json()
  t.equal(created.last_updated_at, created.created_at, 'equal at creation')
  let last = created.last_updated_at
  // A new value, then the same value again: both are updates.
  for (const value of [2, 2]) {
    await sleep(5)
    const res = await c.request('PUT', byKey('layout'), { value })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.equal(body.id, created.id)
    t.equal(body.created_at, created.created_at, 'created_at unchanged')
    t.ok(body.last_updated_at > last, `last_updated_at moved forward (${last} -> ${body.last_updated_at})`)
    last = body.last_updated_at
    const [row] = await rows()
    t.same([row.created_at, row.last_updated_at], [created.created_at, body.last_updated_at], 'as stored')
  }
})

t.test('every route works without the trailing slash, and PUT takes a form body', async (t) => {
  const { app, rows } = await build(t, { server })
  const url = `${PREFIX}/user/1/preference/by-key/ui%20tour`
  const put = await app.inject({
    method: 'PUT',
    url,
    headers: { ...bearer(token(1)), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `value=${encodeURIComponent('{"seen":true}')}`
  })
  t.equal(put.statusCode, 201)
  t.same(put.json().value, { seen: true })
  const get = await app.inject({ method: 'GET', url, headers: bearer(token(1)) })
  t.equal(get.statusCode, 200)
  t.equal(get.json().key, 'ui tour')
  const del = await app.inject({ method: 'DELETE', url, headers: bearer(token(1)) })
  t.equal(del.statusCode, 204)
  t.same(await rows(), [])
})

t.test('keys with spaces, dots, colons, slashes, percent signs, emoji and 255 characters', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  const keys = [
    'editor font size', 'ui.theme.mode', 'app:settings:v2', 'layout/left/width', 'a/b.c:d e',
    '100%', 'what?#hash&x=1+2', 'ünïcödé', '😀 emoji', 'x'.repeat(255), '😀'.repeat(255)
  ]
  for (const [i, key] of keys.entries()) {
    const put = await c.request('PUT', byKey(key), { value: i })
    t.equal(put.statusCode, 201, `create ${key.slice(0, 20)}`)
    t.equal(put.json().key, key, 'stored exactly as sent')
    const get = await c.request('GET', byKey(key))
    t.equal(get.statusCode, 200, `read ${key.slice(0, 20)}`)
    t.same([get.json().id, get.json().value], [put.json().id, i])
    t.equal((await c.request('PUT', byKey(key), { value: -i })).statusCode, 200, 'replace')
  }
  t.same((await rows()).map((r) => [r.key, r.value]), keys.map((key, i) => [key, JSON.stringify(-i)]))
  for (const key of keys) t.equal((await c.request('DELETE', byKey(key))).statusCode, 204)
  t.same(await rows(), [])
})

t.test('the key is exact and case-sensitive; one user never sees another\'s', async (t) => {
  const { app } = await build(t, { server })
  t.equal((await client(app, token(2)).request('PUT', byKey('Theme', 2), { value: 1 })).statusCode, 201)
  const c = client(app, token(1))
  t.equal((await c.request('GET', byKey('Theme'))).statusCode, 404, 'another user\'s key is not found')
  t.equal((await c.request('PUT', byKey('Theme'), { value: 2 })).statusCode, 201, 'so it can be created')
  t.equal((await c.request('GET', byKey('theme'))).statusCode, 404, 'other case')
  t.equal((await c.request('GET', byKey('Them'))).statusCode, 404, 'prefix')
})

t.test('GET and DELETE of an absent key: 404 PREFERENCE_NOT_FOUND', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  await c.create('present', 1)
  for (const method of ['GET', 'DELETE'] as const) {
    const res = await c.request(method, byKey('absent'))
    t.equal(res.statusCode, 404, method)
    t.equal(res.json().code, 'PREFERENCE_NOT_FOUND', method)
  }
  t.equal((await rows()).length, 1)
})

/** A request that bypasses the contract check (the chained form of inject is not checked). */
async function uncheckedInject (app: FastifyInstance, method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) {
  const chain = app.inject()
  const request = method === 'GET' ? chain.get(url) : method === 'PUT' ? chain.put(url) : chain.delete(url)
  request.headers(bearer(token(1)))
  return body === undefined ? request : request.payload(body as object)
}

t.test('an invalid {key} is a 400 PREFERENCE_INVALID_PATH_PARAMETER, after 401 and before 403', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  const bad = [
    ['control character', '/user/me/preference/by-key/a%01b/'],
    ['DEL', '/user/me/preference/by-key/%7F/'],
    ['newline', '/user/me/preference/by-key/a%0Ab/'],
    ['empty', '/user/me/preference/by-key//'],
    ['256 characters', `/user/me/preference/by-key/${'x'.repeat(256)}/`]
  ]
  for (const [name, path] of bad) {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      // An empty segment matches no OpenAPI path template, so that case skips the contract
      // check (the chained form of inject is not checked).
      const res = name === 'empty'
        ? await uncheckedInject(app, method, `${PREFIX}${path}`, method === 'PUT' ? { value: 1 } : undefined)
        : await c.request(method, path, method === 'PUT' ? { value: 1 } : undefined)
      t.equal(res.statusCode, 400, `${method} ${name}`)
      t.equal(res.json().code, 'PREFERENCE_INVALID_PATH_PARAMETER', `${method} ${name}`)
    }
  }
  const noToken = await app.inject({ method: 'GET', url: `${PREFIX}/user/me/preference/by-key/%01/` })
  t.equal(noToken.statusCode, 401, 'no token: 401 first')
  const otherUser = await c.request('GET', '/user/2/preference/by-key/%01/')
  t.equal(otherUser.statusCode, 400, 'a malformed key is a 400 before the 403')
  t.same(await rows(), [])
})

t.test('someone else\'s keys: 403 before the body is read; an admin may', async (t) => {
  const { app, rows } = await build(t, { server })
  await client(app, token(2)).request('PUT', byKey('k', 2), { value: 1 })
  const c = client(app, token(1))
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    const res = await c.request(method, byKey('k', 2), method === 'PUT' ? '{not json' : undefined)
    t.equal(res.statusCode, 403, method)
    t.equal(res.json().code, 'PREFERENCE_FORBIDDEN', method)
  }
  const admin = client(app, adminToken())
  t.equal((await admin.request('PUT', byKey('k', 2), { value: 2 })).statusCode, 200)
  t.equal((await admin.request('GET', byKey('k', 2))).json().value, 2)
  t.same((await rows()).map((r) => [Number(r.user_id), r.key, r.value]), [[2, 'k', '2']])
})

t.test('PUT bodies: value required, JSON or form only, no other fields written', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  const missing = await c.request('PUT', byKey('k'), { key: 'k' })
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().code, 'PREFERENCE_VALIDATION_FAILED')
  for (const [body, code, what] of [['[1]', 'PREFERENCE_VALIDATION_FAILED', 'array body'], ['{"value":', 'PREFERENCE_MALFORMED_BODY', 'invalid JSON'],
    ['', 'PREFERENCE_MALFORMED_BODY', 'an empty body']]) {
    const res = await c.request('PUT', byKey('k'), body)
    t.equal(res.statusCode, 400, what)
    t.equal(res.json().code, code, what)
  }
  for (const type of ['text/plain', 'application/merge-patch+json']) {
    const res = await c.request('PUT', byKey('k'), { value: 1 }, { 'content-type': type })
    t.equal(res.statusCode, 415, type)
    t.equal(res.json().code, 'PREFERENCE_UNSUPPORTED_MEDIA_TYPE', type)
  }
  t.same(await rows(), [])
  const nullValue = await c.request('PUT', byKey('k'), { value: null })
  t.equal(nullValue.statusCode, 201, 'null is a value')
  t.same((await rows()).map((r) => r.value), ['null'])
})

t.test('PUT: an oversized value is a 413; at the limit creating is a 409, replacing is fine', async (t) => {
  const { app, rows } = await build(t, { server, plugin: { maxValueBytes: 100, maxPreferencesPerUser: 2 } })
  const c = client(app, token(1))
  t.equal((await c.request('PUT', byKey('a'), { value: 'x'.repeat(98) })).statusCode, 201, 'exactly 100 bytes')
  for (const key of ['a', 'new']) {
    const big = await c.request('PUT', byKey(key), { value: 'x'.repeat(99) })
    t.equal(big.statusCode, 413, key)
    t.equal(big.json().code, 'PREFERENCE_VALUE_TOO_LARGE', key)
  }
  t.equal((await c.request('PUT', byKey('b'), { value: 1 })).statusCode, 201)
  const before = await rows()
  const over = await c.request('PUT', byKey('c'), { value: 1 })
  t.equal(over.statusCode, 409)
  t.equal(over.json().code, 'PREFERENCE_LIMIT_REACHED')
  t.match(over.json().message, /"c"/, 'names the key')
  t.same(await rows(), before, 'nothing written')
  t.equal((await c.request('PUT', byKey('b'), { value: 2 })).statusCode, 200, 'replacing at the limit')
  t.same((await rows()).map((r) => [r.key, r.value]), [['a', JSON.stringify('x'.repeat(98))], ['b', '2']])
})

t.test('20 concurrent upserts of one new key: one 201, nineteen 200, one row', async (t) => {
  const { app, rows } = await build(t, { server })
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => app.inject({
    method: 'PUT',
    url: `${PREFIX}${byKey('race key')}`,
    headers: { ...bearer(token(1)), 'content-type': 'application/json' },
    payload: { value: i }
  })))
  const statuses = responses.map((r) => r.statusCode).sort()
  t.same(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201])
  t.equal(new Set(responses.map((r) => r.json().id)).size, 1, 'all on the same preference')
  const stored = await rows()
  t.equal(stored.length, 1)
  t.equal(stored[0].key, 'race key')
  t.ok(responses.some((r) => JSON.stringify(r.json().value) === stored[0].value), 'the last write won')
})

t.test('a host with Fastify\'s default maxParamLength (100) cannot route long keys: 414', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  t.equal((await c.request('PUT', byKey('short'), { value: 1 })).statusCode, 201)
  // Answered by Fastify's router before any route (so outside the OpenAPI contract): the chained
  // form of inject is not contract-checked.
  const long = await uncheckedInject(app, 'PUT', `${PREFIX}${byKey('x'.repeat(101))}`, { value: 1 })
  t.equal(long.statusCode, 414, 'URI Too Long, from Fastify')
  t.equal((await rows()).length, 1)
})

t.test('the standalone server routes a 255-emoji key and documents the new routes', async (t) => {
  const app = await buildApp({ jwtSecret: SECRET, databaseUrl: ':memory:', logger: false })
  t.after(() => app.close())
  const url = `${API_PREFIX}${byKey('😀'.repeat(255))}`
  const put = await app.inject({ method: 'PUT', url, headers: bearer(token(1)), payload: { value: 1 } })
  t.equal(put.statusCode, 201, 'maxParamLength is large enough')

  const { paths } = (await app.inject('/documentation/json')).json()
  const item = paths[`${API_PREFIX}/user/{user_id}/preference/by-key/{key}/`]
  t.same(Object.keys(item).sort(), ['delete', 'get', 'put'])
  t.same(Object.keys(item.put.responses).filter((s) => s < '500'), ['200', '201', '400', '401', '403', '409', '412', '413', '415', '429'])
  t.same(Object.keys(item.put.responses['201'].headers).sort(), ['ETag', 'location'])
  t.ok(item.get.responses['304'])
  t.ok(item.get.parameters.some((p: { in: string, name: string }) => p.in === 'header' && p.name === 'if-none-match'))
  t.ok(item.delete.parameters.some((p: { in: string, name: string }) => p.in === 'header' && p.name === 'if-match'))
  t.same(item.get.security, [{ bearerAuth: [] }])
  const patch = paths[`${API_PREFIX}/user/{user_id}/preference/`].patch
  t.same(Object.keys(patch.requestBody.content), ['application/merge-patch+json'])
  t.ok(paths[`${API_PREFIX}/user/{user_id}/preference/{id}/`].patch.responses['412'])
  t.ok(paths[`${API_PREFIX}/user/{user_id}/preference/`].get.responses['304'])
})
