import swagger from '@fastify/swagger'
import SQLite from 'better-sqlite3'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import preferences, { openDatabase, preferencesOpenapi, type PreferencesPluginOptions } from '../index.js'
import { attachContract } from './contract.js'
import { BACKEND, bearer, freshDatabaseUrl, PG_URL, PREFIX, SECRET, token } from './helper.js'

// A database that is busy (another connection holds the lock the write needs) or gone (no
// server) is a 503 PREFERENCE_DATABASE_UNAVAILABLE with Retry-After: the request was fine,
// the client should try again. Never a 500, and a refused write wrote nothing. (The long
// outage test, a proxy cut and stalled under load, is test/stress/outage.test.ts.)

const UNAVAILABLE = {
  statusCode: 503,
  code: 'PREFERENCE_DATABASE_UNAVAILABLE',
  error: 'Service Unavailable',
  message: 'The database is unavailable; try again shortly'
}

async function host (t: Test, plugin: Partial<PreferencesPluginOptions>): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 4096 } })
  t.after(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 'host', version: '1' }, ...preferencesOpenapi } })
  await app.register(preferences, { prefix: PREFIX, auth: { secret: SECRET }, ...plugin })
  await app.ready()
  attachContract(app, (problem) => t.fail(`contract: ${problem}`))
  return app
}

function isUnavailable (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 503, `${what}: 503`)
  t.same(res.json(), UNAVAILABLE, `${what}: the error, without detail`)
  t.equal(res.headers['retry-after'], '1', `${what}: Retry-After`)
}

const send = (app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown,
  type = 'application/json') =>
  app.inject({
    method,
    url: `${PREFIX}${url}`,
    headers: { ...bearer(token(1)), ...(payload !== undefined && { 'content-type': type }) },
    ...(payload !== undefined && { payload: JSON.stringify(payload) })
  })

/** Every write route, as user 1, on a database that holds `existing` (id 1, key "existing"). */
const writes = (app: FastifyInstance) => [
  ['POST', () => send(app, 'POST', '/user/me/preference/', { key: 'new', value: 1 })],
  ['PATCH', () => send(app, 'PATCH', '/user/me/preference/1/', { value: 2 })],
  ['PUT', () => send(app, 'PUT', '/user/me/preference/1/', { key: 'existing', value: 2 })],
  ['PUT by key', () => send(app, 'PUT', '/user/me/preference/by-key/new/', { value: 2 })],
  ['DELETE', () => send(app, 'DELETE', '/user/me/preference/1/')],
  ['merge patch', () => send(app, 'PATCH', '/user/me/preference/', { new: 1 }, 'application/merge-patch+json')]
] as const

t.test('SQLite busy: another connection holds the write lock past the busy timeout', { skip: BACKEND !== 'sqlite' && 'SQLite only' }, async (t) => {
  const path = await freshDatabaseUrl(t)
  const app = await host(t, { database: path, databaseOptions: { busyTimeoutMs: 50 } })
  t.equal((await send(app, 'POST', '/user/me/preference/', { key: 'existing', value: 1 })).statusCode, 201)

  const other = new SQLite(path)
  t.after(() => other.close())
  other.exec('BEGIN IMMEDIATE') // the write lock, until ROLLBACK
  for (const [what, request] of writes(app)) isUnavailable(t, await request(), what)
  const read = await send(app, 'GET', '/user/me/preference/')
  t.equal(read.statusCode, 200, 'reads go on (WAL): only what needs the lock waits')
  other.exec('ROLLBACK')

  t.same(other.prepare('select id, key, value from user_preference').all(), [{ id: 1, key: 'existing', value: '1' }],
    'nothing was written')
  t.equal((await send(app, 'POST', '/user/me/preference/', { key: 'new', value: 1 })).statusCode, 201, 'the lock gone, a write succeeds')
})

t.test('PostgreSQL busy: a lock held past the statement timeout', { skip: BACKEND !== 'postgres' && 'PostgreSQL only' }, async (t) => {
  const url = await freshDatabaseUrl(t)
  const app = await host(t, { database: url, databaseOptions: { statementTimeoutMs: 300 } })
  t.equal((await send(app, 'POST', '/user/me/preference/', { key: 'existing', value: 1 })).statusCode, 201)

  const other = new pg.Client({ connectionString: url })
  await other.connect()
  t.after(() => other.end())
  await other.query('begin')
  await other.query('lock table user_preference in access exclusive mode')
  for (const [what, request] of writes(app)) isUnavailable(t, await request(), what)
  isUnavailable(t, await send(app, 'GET', '/user/me/preference/'), 'a read, which this lock blocks too')
  await other.query('rollback')

  const { rows } = await other.query('select id, key, value from user_preference')
  t.same(rows.map((r: { id: string, key: string, value: string }) => [Number(r.id), r.key, r.value]), [[1, 'existing', '1']],
    'nothing was written')
  t.equal((await send(app, 'POST', '/user/me/preference/', { key: 'new', value: 1 })).statusCode, 201, 'the lock gone, a write succeeds')
})

t.test('PostgreSQL gone: no server where the URL points', { skip: BACKEND !== 'postgres' && 'PostgreSQL only' }, async (t) => {
  // Port 1 on this host: nothing listens there, so every connection is refused at once.
  const url = new URL(PG_URL)
  url.port = '1'
  const { db } = openDatabase(url.toString(), { connectionTimeoutMs: 1000 })
  t.after(() => db.destroy())
  const app = await host(t, { database: db, migrate: false })
  for (const [what, request] of writes(app)) isUnavailable(t, await request(), what)
  isUnavailable(t, await send(app, 'GET', '/user/me/preference/1/'), 'a read')
})
