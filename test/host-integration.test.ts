import fastifyJwt from '@fastify/jwt'
import { createSigner } from 'fast-jwt'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { type Kysely, sql } from 'kysely'
import t from 'tap'
import type { Test } from 'tap'
import preferences from '../index.js'
import { openDatabase } from '../db/connect.js'
import type { Database } from '../db/types.js'
import { bearer, PREFIX, SECRET, token } from './helper.js'

const HOST_SECRET = 'host-secret'

/** A token the host application issues: signed with the host's secret, never the plugin's. */
const hostToken = (sub = 7): string =>
  createSigner({ key: HOST_SECRET, expiresIn: 3_600_000 })({ sub: String(sub), name: 'host user' })

type JwtOrder = 'before' | 'after'

/**
 * A host application with its own @fastify/jwt, its own routes, parsers and error handler,
 * and the preferences plugin under /api/v2: the host's jwt is registered before or after it.
 */
async function buildHost (t: Test, order: JwtOrder, database: string | Kysely<Database>): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  t.after(() => app.close())

  const registerHostJwt = async () => { await app.register(fastifyJwt, { secret: HOST_SECRET }) }
  if (order === 'before') await registerHostJwt()

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    return reply.code(error.statusCode ?? 500).send({ handledBy: 'host', code: error.code ?? null })
  })
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    done(null, `host parsed: ${String(body)}`)
  })

  app.get('/status', async () => ({ up: true }))
  app.get(`${PREFIX}/hello`, {
    onRequest: async (request) => { await request.jwtVerify() }
  }, async (request) => ({ hello: request.user }))
  app.post(`${PREFIX}/notes`, async (request) => ({ received: request.body }))
  app.get('/boom', async () => {
    const error = new Error('host failure') as FastifyError
    error.statusCode = 418
    error.code = 'HOST_TEAPOT'
    throw error
  })

  await app.register(preferences, { prefix: PREFIX, auth: { secret: SECRET }, database })
  if (order === 'after') await registerHostJwt()
  await app.ready()
  return app
}

for (const order of ['before', 'after'] as const) {
  t.test(`a host with its own @fastify/jwt registered ${order} the plugin`, async (t) => {
    const app = await buildHost(t, order, join(t.testdir({}), 'prefs.sqlite'))

    t.test('the host\'s routes work with host tokens', async (t) => {
      const status = await app.inject({ method: 'GET', url: '/status' })
      t.equal(status.statusCode, 200)
      t.same(status.json(), { up: true })

      const hello = await app.inject({ method: 'GET', url: `${PREFIX}/hello`, headers: bearer(hostToken(7)) })
      t.equal(hello.statusCode, 200)
      t.match(hello.json(), { hello: { sub: '7', name: 'host user' } })

      const anonymous = await app.inject({ method: 'GET', url: `${PREFIX}/hello` })
      t.equal(anonymous.statusCode, 401)
      t.match(anonymous.json(), { handledBy: 'host' }, 'the host\'s error handler answers on the host\'s routes')
    })

    t.test('the plugin works with plugin tokens', async (t) => {
      const created = await app.inject({
        method: 'POST',
        url: `${PREFIX}/user/me/preference/`,
        headers: bearer(token(7)),
        payload: { key: 'theme', value: { mode: 'dark' } }
      })
      t.equal(created.statusCode, 201)
      t.match(created.json(), { user_id: 7, key: 'theme', value: { mode: 'dark' } })
      t.equal(created.headers.location, `${PREFIX}/user/7/preference/${created.json().id}/`)

      const list = await app.inject({ method: 'GET', url: `${PREFIX}/user/7/preference/`, headers: bearer(token(7)) })
      t.equal(list.statusCode, 200)
      t.equal(list.json().count, 1)
    })

    t.test('a host token is 401 on the plugin', async (t) => {
      const res = await app.inject({ method: 'GET', url: `${PREFIX}/user/7/preference/`, headers: bearer(hostToken(7)) })
      t.equal(res.statusCode, 401)
      t.equal(res.json().code, 'PREFERENCE_AUTH_INVALID', 'the plugin\'s own error, not the host\'s')
      t.notOk('handledBy' in res.json())
      t.match(String(res.headers['www-authenticate']), /^Bearer .*error="invalid_token"/)
    })

    t.test('a plugin token is 401 on the host\'s route', async (t) => {
      const res = await app.inject({ method: 'GET', url: `${PREFIX}/hello`, headers: bearer(token(7)) })
      t.equal(res.statusCode, 401)
      t.match(res.json(), { handledBy: 'host', code: /^FST_JWT_/ })
    })

    t.test('the host\'s parsers and error handler are unaffected', async (t) => {
      const text = await app.inject({
        method: 'POST', url: `${PREFIX}/notes`, headers: { 'content-type': 'text/plain' }, payload: 'hello'
      })
      t.equal(text.statusCode, 200)
      t.same(text.json(), { received: 'host parsed: hello' }, 'the host\'s own text/plain parser ran')

      const json = await app.inject({ method: 'POST', url: `${PREFIX}/notes`, payload: { a: [1, 2] } })
      t.equal(json.statusCode, 200)
      t.same(json.json(), { received: { a: [1, 2] } }, 'the host\'s JSON parser still works')

      const boom = await app.inject({ method: 'GET', url: '/boom' })
      t.equal(boom.statusCode, 418)
      t.same(boom.json(), { handledBy: 'host', code: 'HOST_TEAPOT' })

      // ...while the plugin keeps its own: text/plain is not a body it accepts.
      const rejected = await app.inject({
        method: 'POST',
        url: `${PREFIX}/user/7/preference/`,
        headers: { ...bearer(token(7)), 'content-type': 'text/plain' },
        payload: 'key=x'
      })
      t.equal(rejected.statusCode, 415)
      t.equal(rejected.json().code, 'PREFERENCE_UNSUPPORTED_MEDIA_TYPE')
    })

    t.test('the host\'s jwt decorator is not altered by the plugin', async (t) => {
      const hostJwt = app.jwt as unknown as Record<string, unknown>
      t.type(hostJwt.sign, 'function')
      t.same(Object.keys(hostJwt).sort(), ['cookie', 'decode', 'lookupToken', 'options', 'sign', 'verify'],
        'the plugin\'s own @fastify/jwt adds nothing to the host\'s fastify.jwt')
      t.type(app.jwt.verify(hostToken(3)), 'object')
      t.throws(() => app.jwt.verify(token(3)), 'the host\'s jwt still rejects plugin tokens')
    })

    t.test('printRoutes lists the plugin\'s routes under /api/v2', async (t) => {
      // Fastify prints a radix tree: the collection under the prefix, then `/` and `:id`
      // below it (with and without the trailing slash).
      const routes = app.printRoutes({ commonPrefix: false })
      t.match(routes, /── \/api\/v2\/user\/:user_id\/preference \((?=[^)]*POST)(?=[^)]*GET)[^)]*\)/)
      t.match(routes, /── :id \((?=[^)]*GET)(?=[^)]*PATCH)(?=[^)]*PUT)(?=[^)]*DELETE)[^)]*\)/)
      t.match(routes, /── \/api\/v2\/hello \(GET/)
      t.notMatch(routes, /── \/user\//, 'no plugin route outside the prefix')
      for (const method of ['GET', 'POST'] as const) {
        t.ok(app.hasRoute({ method, url: `${PREFIX}/user/:user_id/preference/` }), `${method} collection`)
      }
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE'] as const) {
        t.ok(app.hasRoute({ method, url: `${PREFIX}/user/:user_id/preference/:id/` }), `${method} item`)
      }
      t.notOk(app.hasRoute({ method: 'GET', url: '/user/:user_id/preference/' }), 'nothing outside the prefix')
    })
  })
}

t.test('two mounts with their own secrets, beside the host\'s @fastify/jwt: each accepts only its tokens', async (t) => {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  await app.register(fastifyJwt, { secret: HOST_SECRET })
  const OTHER_SECRET = 'the-second-mount-secret-long-enough'
  await app.register(preferences, { prefix: '/a', auth: { secret: SECRET }, database: join(t.testdir({}), 'a.sqlite') })
  await app.register(preferences, { prefix: '/b', auth: { secret: OTHER_SECRET }, database: join(t.testdir({}), 'b.sqlite') })
  await app.ready()

  const list = async (prefix: string, bearerToken: string) =>
    (await app.inject({ url: `${prefix}/user/me/preference/`, headers: bearer(bearerToken) })).statusCode
  const bToken = token({ sub: 5, secret: OTHER_SECRET })
  t.equal(await list('/a', token(5)), 200, 'mount a takes its own token')
  t.equal(await list('/b', bToken), 200, 'mount b takes its own token')
  t.equal(await list('/a', bToken), 401, 'mount a refuses mount b\'s token')
  t.equal(await list('/b', token(5)), 401, 'mount b refuses mount a\'s token')
  t.equal(await list('/a', hostToken(5)), 401, 'and neither takes the host\'s')
  t.type(app.jwt.verify(hostToken(5)), 'object', 'the host\'s jwt still works')
})

t.test('a Kysely instance the host gives is not destroyed when the app closes', async (t) => {
  const file = join(t.testdir({}), 'prefs.sqlite')
  const { db } = openDatabase(file)
  t.after(() => db.destroy())

  const app = Fastify({ logger: false })
  await app.register(preferences, { prefix: PREFIX, auth: { secret: SECRET }, database: db })
  const created = await app.inject({
    method: 'POST', url: `${PREFIX}/user/me/preference/`, headers: bearer(token(4)), payload: { key: 'k', value: 1 }
  })
  t.equal(created.statusCode, 201)
  await app.close()

  const rows = await db.selectFrom('user_preference').select(['user_id', 'key', 'value']).execute()
  t.same(rows, [{ user_id: 4, key: 'k', value: '1' }], 'the host\'s instance still answers after close')
  t.ok(existsSync(`${file}-wal`), 'the SQLite connection is still open (its WAL file is there)')
})

t.test('a database given as a string is the plugin\'s own: closed with the app', async (t) => {
  const file = join(t.testdir({}), 'own', 'prefs.sqlite')
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  let pluginDb: Kysely<Database> | undefined
  // Fastify hands a route's own instance to its hooks as request.server: that is how we
  // reach the instance the plugin opened.
  app.addHook('onRequest', async (request) => { pluginDb ??= request.server.preferencesDb })
  await app.register(preferences, { prefix: PREFIX, auth: { secret: SECRET }, database: file })

  const created = await app.inject({
    method: 'POST', url: `${PREFIX}/user/me/preference/`, headers: bearer(token(4)), payload: { key: 'k', value: 1 }
  })
  t.equal(created.statusCode, 201)
  t.ok(pluginDb, 'reached the plugin\'s database')
  t.ok(existsSync(`${file}-wal`), 'open in WAL mode while the app runs')

  await app.close()
  t.notOk(existsSync(`${file}-wal`), 'the last connection closed: SQLite removed the WAL file')
  await t.rejects(sql`select 1`.execute(pluginDb as Kysely<Database>), 'the plugin\'s Kysely instance is destroyed')

  // The write was durable: another connection reads it.
  const reopened = openDatabase(file)
  t.after(() => reopened.db.destroy())
  const rows = await reopened.db.selectFrom('user_preference').select(['user_id', 'key']).execute()
  t.same(rows, [{ user_id: 4, key: 'k' }])
})

for (const order of ['none', 'before'] as const) {
  const title = order === 'none' ? 'without a host jwt' : 'with the host\'s jwt registered first'
  t.test(`two registrations under two prefixes work independently (${title})`, async (t) => {
    const dir = t.testdir({})
    const OTHER_SECRET = 'another-secret-that-is-long-enough-for-hs256'
    const app = Fastify({ logger: false })
    t.after(() => app.close())
    if (order === 'before') await app.register(fastifyJwt, { secret: HOST_SECRET })
    await app.register(preferences, { prefix: '/api/v2', auth: { secret: SECRET }, database: join(dir, 'a.sqlite') })
    await app.register(preferences, {
      prefix: '/tenant-b/v1', auth: { secret: OTHER_SECRET }, database: join(dir, 'b.sqlite'), maxPreferencesPerUser: 1
    })
    await app.ready()

    const a = (method: 'GET' | 'POST', path: string, tok: string, payload?: unknown) =>
      app.inject({ method, url: `/api/v2${path}`, headers: bearer(tok), ...(payload !== undefined && { payload: payload as object }) })
    const b = (method: 'GET' | 'POST', path: string, tok: string, payload?: unknown) =>
      app.inject({ method, url: `/tenant-b/v1${path}`, headers: bearer(tok), ...(payload !== undefined && { payload: payload as object }) })
    const tokenA = token(5)
    const tokenB = token({ sub: 5, secret: OTHER_SECRET })

    const inA = await a('POST', '/user/me/preference/', tokenA, { key: 'theme', value: 'A' })
    t.equal(inA.statusCode, 201)
    t.equal(inA.headers.location, `/api/v2/user/5/preference/${inA.json().id}/`)
    const inB = await b('POST', '/user/me/preference/', tokenB, { key: 'theme', value: 'B' })
    t.equal(inB.statusCode, 201, 'the same key is free in the other registration')
    t.equal(inB.headers.location, `/tenant-b/v1/user/5/preference/${inB.json().id}/`)

    t.same((await a('GET', '/user/5/preference/', tokenA)).json().results.map((p: { value: unknown }) => p.value), ['A'])
    t.same((await b('GET', '/user/5/preference/', tokenB)).json().results.map((p: { value: unknown }) => p.value), ['B'])

    t.equal((await a('GET', '/user/5/preference/', tokenB)).statusCode, 401, 'B\'s token is not valid on A')
    t.equal((await b('GET', '/user/5/preference/', tokenA)).statusCode, 401, 'A\'s token is not valid on B')

    const secondInB = await b('POST', '/user/me/preference/', tokenB, { key: 'other', value: 1 })
    t.equal(secondInB.statusCode, 409, 'B\'s own limit (1) applies in B')
    t.equal(secondInB.json().code, 'PREFERENCE_LIMIT_REACHED')
    const secondInA = await a('POST', '/user/me/preference/', tokenA, { key: 'other', value: 1 })
    t.equal(secondInA.statusCode, 201, '...and not in A')
  })
}
