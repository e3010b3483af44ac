import { Type } from '@sinclair/typebox'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { groupCommitStats, writeTransaction } from '../db/sqlite-group-commit.js'
import { BACKEND, build, client, freshDatabaseUrl, PREFIX, token } from './helper.js'

// Group commit (db/sqlite-group-commit.ts): on SQLite, writes that arrive together share one
// transaction, each in a savepoint of its own. These requests are fired together so that they
// share a batch there; on PostgreSQL the same requests must give the same answers.

const sqliteOnly = { skip: BACKEND === 'sqlite' ? false : 'group commit is SQLite only' }
const MERGE = { 'content-type': 'application/merge-patch+json' }

t.test(`a batch of writes where some fail: each failure gets its own answer, the rest commit (${BACKEND})`, async (t) => {
  const { app, db, rows } = await build(t, {
    plugin: { maxPreferencesPerUser: 3, keys: { typed: { schema: Type.Integer() } } }
  })
  const one = client(app, token(1))
  const two = client(app, token(2))
  const three = client(app, token(3))
  t.equal((await one.create('taken', 1)).statusCode, 201)
  for (const key of ['a', 'b', 'c']) t.equal((await two.create(key, 1)).statusCode, 201)
  const patched = (await one.create('stale', 1)).json()
  const before = await rows()
  const stats = groupCommitStats(db)

  const responses = await Promise.all([
    one.create('new1', { n: 1 }),
    one.create('taken', 'again'), // 409: the key exists
    two.create('d', 1), // 409: user 2 holds 3, the limit
    three.create('x', 1),
    three.request('PATCH', '/user/3/preference/', { typed: 'not an integer' }, MERGE), // 400 inside the write
    one.request('PATCH', `/user/1/preference/${patched.id}/`, { value: 2 }, { 'if-match': '"stale-etag"' }), // 412
    three.request('PATCH', '/user/3/preference/999999/', { value: 2 }), // 404
    three.request('PUT', '/user/3/preference/by-key/y/', { value: 'y' }),
    one.request('POST', '/user/1/preference/', { value: 'no key' }) // 400 before any write
  ])
  t.same(responses.map((r) => r.statusCode), [201, 409, 409, 201, 400, 412, 404, 201, 400])
  t.same(responses.map((r) => r.statusCode < 300 ? null : r.json().code), [
    null, 'PREFERENCE_KEY_EXISTS', 'PREFERENCE_LIMIT_REACHED', null, 'PREFERENCE_VALUE_INVALID',
    'PREFERENCE_PRECONDITION_FAILED', 'PREFERENCE_NOT_FOUND', null, 'PREFERENCE_VALIDATION_FAILED'
  ])
  const after = await rows()
  t.same(after.slice(0, before.length), before, 'nothing that was there changed')
  // (In id order on SQLite, where a batch runs in arrival order; PostgreSQL's pool gives no order.)
  const added = after.slice(before.length).map((r) => [r.user_id, r.key, r.value])
  if (BACKEND !== 'sqlite') added.sort((a, b) => String(a).localeCompare(String(b)))
  t.same(added, [[1, 'new1', '{"n":1}'], [3, 'x', '1'], [3, 'y', '"y"']], 'exactly the successful writes are stored')
  const log = await db.selectFrom('preference_change').select(['user_id', 'rev']).orderBy('user_id').orderBy('rev').execute()
  t.same(log.map((r) => [Number(r.user_id), Number(r.rev)]), [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3], [3, 1], [3, 2]],
    'one revision per successful write, none for the failed ones')

  if (BACKEND === 'sqlite') {
    const now = groupCommitStats(db)
    t.ok(stats !== undefined && now !== undefined)
    if (stats === undefined || now === undefined) return
    // Eight requests reach the database (the body without a key is refused before it; the
    // merge patch's value is checked inside its write): they shared one transaction.
    t.equal(now.batches - stats.batches, 1, 'one batch')
    t.equal(now.writes - stats.writes, 8, 'of eight writes')
    t.equal(now.queued, 0)
  }
})

t.test(`writes awaited one after the other land in that order (${BACKEND})`, async (t) => {
  const { app, db, rows } = await build(t)
  const c = client(app, token(1))
  for (let i = 1; i <= 20; i++) {
    const res = await c.request('PUT', '/user/1/preference/by-key/k/', { value: i })
    t.equal(res.statusCode, i === 1 ? 201 : 200)
  }
  t.same((await rows()).map((r) => r.value), ['20'])
  const log = await db.selectFrom('preference_change').select(['rev', 'changes']).orderBy('rev').execute()
  t.same(log.map((r) => JSON.parse(r.changes)[0].value), Array.from({ length: 20 }, (_, i) => i + 1), 'the change log in the same order')
  // On SQLite, writes fired together still land in the order they were queued (PostgreSQL's
  // pool gives no such order).
  if (BACKEND !== 'sqlite') return
  const fired = await Promise.all(Array.from({ length: 10 }, (_, i) => c.request('PUT', '/user/1/preference/by-key/k/', { value: 100 + i })))
  t.same(fired.map((r) => r.statusCode), Array(10).fill(200))
  t.same((await rows()).map((r) => r.value), ['109'])
  t.same(fired.map((r) => Number(r.headers.etag !== undefined)), Array(10).fill(1))
})

t.test('past the queue limit a write is a 503 with Retry-After, and changes nothing', sqliteOnly, async (t) => {
  const { app, db, rows } = await build(t, { databaseOptions: { groupCommit: { maxBatch: 1, maxQueue: 2 } } })
  const c = client(app, token(1))
  const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => c.create(`k${i}`, i)))
  t.same(responses.map((r) => r.statusCode), [201, 201, 503, 503, 503, 503, 503, 503])
  for (const res of responses.slice(2)) {
    t.equal(res.headers['retry-after'], '1')
    t.match(res.json(), { statusCode: 503, code: 'PREFERENCE_WRITE_QUEUE_FULL', error: 'Service Unavailable' })
  }
  t.same((await rows()).map((r) => r.key), ['k0', 'k1'])
  const stats = groupCommitStats(db)
  t.match(stats, { refused: 6, queued: 0, largestBatch: 1 })
  // Room again once the queue drains.
  t.equal((await c.create('later', 1)).statusCode, 201)
})

t.test('group commit options are checked; false turns it off', sqliteOnly, async (t) => {
  const url = await freshDatabaseUrl(t)
  for (const groupCommit of [{ maxBatch: 0 }, { maxQueue: 1.5 }, { maxBatch: '8' }, null, 'on']) {
    t.throws(() => openDatabase(url, { groupCommit: groupCommit as never }), { code: 'PREFERENCE_INVALID_OPTION', message: /groupCommit/ })
  }
  const { app, db, rows } = await build(t, { databaseOptions: { groupCommit: false } })
  t.equal(groupCommitStats(db), undefined)
  const c = client(app, token(1))
  const responses = await Promise.all([c.create('a', 1), c.create('a', 2), c.create('b', 3)])
  t.same(responses.map((r) => r.statusCode), [201, 409, 201])
  t.same((await rows()).map((r) => r.key), ['a', 'b'])
})

/** A migrated SQLite database of its own, with group commit. */
async function sqliteDb (t: Test) {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(async () => { await db.destroy() })
  await migrateToLatest(db)
  return db
}

const insert = (userId: number, key: string) => sql`insert into user_preference (user_id, key, value, created_at, last_updated_at)
  values (${userId}, ${key}, '1', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`

t.test('a write that throws anything rolls back only its own savepoint', sqliteOnly, async (t) => {
  const db = await sqliteDb(t)
  const before = groupCommitStats(db)
  const results = await Promise.allSettled([
    writeTransaction(db, async (trx) => { await insert(1, 'a').execute(trx); return 'a' }),
    writeTransaction(db, async (trx) => {
      await insert(1, 'b').execute(trx)
      throw new TypeError('a bug in one write')
    }),
    writeTransaction(db, async (trx) => { await insert(1, 'a').execute(trx) }), // a unique violation
    writeTransaction(db, async (trx) => { await insert(1, 'c').execute(trx); return 'c' })
  ])
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled'])
  t.match((results[1] as PromiseRejectedResult).reason, { message: 'a bug in one write' })
  t.match((results[2] as PromiseRejectedResult).reason, { code: 'SQLITE_CONSTRAINT_UNIQUE' })
  const keys = await db.selectFrom('user_preference').select('key').orderBy('id').execute()
  t.same(keys.map((r) => r.key), ['a', 'c'])
  t.equal((groupCommitStats(db)?.batches ?? 0) - (before?.batches ?? 0), 1, 'all four in one batch')
  // Reads between batches, through Kysely and directly, still answer.
  t.equal((await db.selectFrom('user_preference').select('key').where('key', '=', 'c').executeTakeFirst())?.key, 'c')
})

t.test('when the COMMIT fails, no write of the batch is acknowledged', sqliteOnly, async (t) => {
  const db = await sqliteDb(t)
  // A deferred foreign key is checked at COMMIT: one bad row makes the whole COMMIT fail.
  await sql`pragma foreign_keys = on`.execute(db)
  await sql`create table parent (id integer primary key)`.execute(db)
  await sql`create table child (parent_id integer references parent (id) deferrable initially deferred)`.execute(db)
  const results = await Promise.allSettled([
    writeTransaction(db, async (trx) => { await insert(1, 'a').execute(trx) }),
    writeTransaction(db, async (trx) => { await sql`insert into child values (42)`.execute(trx) }),
    writeTransaction(db, async (trx) => { await insert(1, 'a').execute(trx) }) // its own error, not acknowledged either
  ])
  t.same(results.map((r) => r.status), ['rejected', 'rejected', 'rejected'])
  for (const r of results) t.match((r as PromiseRejectedResult).reason, { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' })
  t.same(await db.selectFrom('user_preference').selectAll().execute(), [], 'nothing stored')
  // The next batch starts clean.
  await writeTransaction(db, async (trx) => { await insert(1, 'b').execute(trx) })
  t.same((await db.selectFrom('user_preference').select('key').execute()).map((r) => r.key), ['b'])
})

t.test('a batch over maxBatch is split, in order', sqliteOnly, async (t) => {
  const { app, db, rows } = await build(t, { databaseOptions: { groupCommit: { maxBatch: 3 } } })
  const c = client(app, token(1))
  const before = groupCommitStats(db)
  const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => c.create(`k${i}`, i)))
  t.same(responses.map((r) => r.statusCode), Array(8).fill(201))
  t.same((await rows()).map((r) => r.key), ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'])
  const now = groupCommitStats(db)
  t.same(now?.recentBatches.slice(before?.recentBatches.length), [3, 3, 2])
  const res = await app.inject({ method: 'GET', url: `${PREFIX}/user/1/preference/`, headers: { authorization: `Bearer ${token(1)}` } })
  t.equal(res.json().count, 8)
})
