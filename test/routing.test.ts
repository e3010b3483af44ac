import swagger from '@fastify/swagger'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import preferences, { preferencesOpenapi } from '../index.js'
import { attachContract } from './contract.js'
import { bearer, build, freshDatabaseUrl, PREFIX, SECRET, token } from './helper.js'

// Requests that no route takes. Under the plugin's prefix they answer in the plugin's error
// shape: a 405 with Allow when the path has other methods, else a 404; after the 401, as
// everything in the API. The host's own paths and 404s are left alone.

const COLLECTION_ALLOW = 'GET, HEAD, POST, PATCH, DELETE'
const ITEM_ALLOW = 'GET, HEAD, PUT, PATCH, DELETE'

function isError (t: Test, res: LightMyRequestResponse, status: number, code: string, message: string, what: string): void {
  t.equal(res.statusCode, status, `${what}: ${status}`)
  t.match(res.headers['content-type'], /^application\/json/, `${what}: JSON`)
  t.same(res.json(), { statusCode: status, code, error: status === 404 ? 'Not Found' : 'Method Not Allowed', message }, `${what}: body`)
}

t.test('PUT on the collection: 405 with Allow (DELETE erases), never a message about an empty {id}', async (t) => {
  const { app, rows } = await build(t)
  const created = await app.inject({
    method: 'POST', url: `${PREFIX}/user/1/preference/`, headers: bearer(token(1)), payload: { key: 'theme', value: 1 }
  })
  t.equal(created.statusCode, 201)
  const before = await rows()
  for (const method of ['PUT'] as const) {
    for (const path of [`${PREFIX}/user/1/preference/`, `${PREFIX}/user/1/preference`, `${PREFIX}/user/me/preference/`]) {
      const res = await app.inject({
        method, url: path, headers: { ...bearer(token(1)), 'content-type': 'application/json' }, payload: '{"key":"theme","value":2}'
      })
      isError(t, res, 405, 'PREFERENCE_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; allowed: ${COLLECTION_ALLOW}`, `${method} ${path}`)
      t.equal(res.headers.allow, COLLECTION_ALLOW, `${method} ${path}: Allow`)
      t.notMatch(res.body, /\{id\}/)
    }
  }
  // Another user's collection, by a caller who may not touch it: still the same 405.
  const other = await app.inject({ method: 'PUT', url: `${PREFIX}/user/2/preference/`, headers: bearer(token(1)), payload: { key: 'k', value: 1 } })
  t.equal(other.statusCode, 405)
  t.same(await rows(), before, 'nothing changed')
})

t.test('POST on a preference: 405 with the item\'s methods', async (t) => {
  const { app, rows } = await build(t)
  for (const path of [`${PREFIX}/user/1/preference/1/`, `${PREFIX}/user/1/preference/1`]) {
    const res = await app.inject({ method: 'POST', url: path, headers: bearer(token(1)), payload: { key: 'k', value: 1 } })
    isError(t, res, 405, 'PREFERENCE_METHOD_NOT_ALLOWED', `POST is not allowed on ${path}; allowed: ${ITEM_ALLOW}`, path)
    t.equal(res.headers.allow, ITEM_ALLOW)
  }
  const byKey = await app.inject({ method: 'PATCH', url: `${PREFIX}/user/1/preference/by-key/theme/`, headers: bearer(token(1)), payload: { value: 1 } })
  t.equal(byKey.statusCode, 405)
  t.equal(byKey.headers.allow, 'GET, HEAD, PUT, DELETE', 'by key: no PATCH')
  t.same(await rows(), [])
})

t.test('an unknown path under the prefix: 404 PREFERENCE_ROUTE_NOT_FOUND in the plugin\'s shape', async (t) => {
  const { app } = await build(t)
  for (const path of ['', '/', '/nothing', '/user', '/user/1', '/user/1/', '/user/1/preferences/', '/user/1/preference/1/extra/',
    '/user/1/preference/by-key/k/more', '/preference/1/']) {
    const url = `${PREFIX}${path}`
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      const res = await app.inject({ method, url, headers: bearer(token(1)) })
      isError(t, res, 404, 'PREFERENCE_ROUTE_NOT_FOUND', `There is no route ${method} ${url} in this API`, `${method} ${url}`)
      t.equal(res.headers.allow, undefined)
    }
  }
  const long = `${PREFIX}/${'x'.repeat(300)}`
  const res = await app.inject({ url: long, headers: bearer(token(1)) })
  t.equal(res.json().message, `There is no route GET ${long.slice(0, 200)}... in this API`, 'a long path is cut short')
  const head = await app.inject({ method: 'HEAD', url: `${PREFIX}/nothing`, headers: bearer(token(1)) })
  t.equal(head.statusCode, 404)
  t.equal(head.body, '')
})

t.test('the token comes first: no or a bad token is a 401 on unknown paths and methods too', async (t) => {
  const { app } = await build(t)
  for (const [method, path] of [['GET', '/nothing'], ['PUT', '/user/1/preference/'], ['POST', '/user/1/preference/1/']] as const) {
    const none = await app.inject({ method, url: `${PREFIX}${path}` })
    t.equal(none.statusCode, 401, `${method} ${path} without a token`)
    t.equal(none.json().code, 'PREFERENCE_AUTH_REQUIRED')
    t.equal(none.headers.allow, undefined)
    const bad = await app.inject({ method, url: `${PREFIX}${path}`, headers: bearer('a.b.c') })
    t.equal(bad.json().code, 'PREFERENCE_AUTH_INVALID', `${method} ${path} with a bad token`)
    t.match(bad.headers['www-authenticate'], /error="invalid_token"/)
  }
})

t.test('the host\'s own routes and 404s are its own', async (t) => {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  app.get(`${PREFIX}/status`, async () => ({ up: true }))
  app.get('/outside', async () => 'outside')
  await app.register(swagger, { openapi: { info: { title: 'host', version: '1' }, ...preferencesOpenapi } })
  await app.register(preferences, { prefix: PREFIX, auth: { secret: SECRET }, database: await freshDatabaseUrl(t) })
  await app.ready()
  t.same((await app.inject(`${PREFIX}/status`)).json(), { up: true }, 'a host route under the same prefix still answers, without a token')
  const outside = await app.inject('/nothing')
  t.equal(outside.statusCode, 404)
  t.same(outside.json(), { message: 'Route GET:/nothing not found', error: 'Not Found', statusCode: 404 }, 'Fastify\'s 404 outside the prefix')
})

t.test('registered without a prefix, the plugin leaves 404s to the host', async (t) => {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 'host', version: '1' }, ...preferencesOpenapi } })
  await app.register(preferences, { auth: { secret: SECRET }, database: await freshDatabaseUrl(t) })
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ mine: true }))
  await app.ready()
  attachContract(app, (problem) => { if (!problem.includes('no operation for')) t.fail(problem) })
  const created = await app.inject({ method: 'POST', url: '/user/me/preference/', headers: bearer(token(1)), payload: { key: 'k', value: 1 } })
  t.equal(created.statusCode, 201, 'the plugin works at the root')
  const missing = await app.inject({ url: '/nothing', headers: bearer(token(1)) })
  t.same([missing.statusCode, missing.json()], [404, { mine: true }], 'the host\'s 404 handler')
  const put = await app.inject({ method: 'PUT', url: '/user/1/preference/', headers: bearer(token(1)), payload: { key: 'k', value: 1 } })
  t.equal(put.statusCode, 405, 'the empty {id} is still a 405')
  t.equal(put.headers.allow, COLLECTION_ALLOW)
})
