import t, { type Test } from 'tap'
import { openDatabase } from '../db/connect.js'
import { compiledCommand, type Queryable } from '../db/direct/compiled-statements.js'
import { migrateToLatest } from '../db/migrate.js'
import { batchUserWrites, userBatchStats, userWrite } from '../db/postgres-user-batches.js'
import { BACKEND, build, client, freshDatabaseUrl, token } from './helper.js'

// Group commit of one user's writes (db/postgres-user-batches.ts). The plugin turns it on for
// PostgreSQL; the queue itself runs on either backend, so these tests run on both.

async function batchedDb (t: Test, options = { maxBatch: 128, maxQueue: 1024 }) {
  const { db } = openDatabase(await freshDatabaseUrl(t), { groupCommit: false })
  t.after(async () => { await db.destroy() })
  await migrateToLatest(db)
  batchUserWrites(db, options)
  return db
}

// A compiled statement, as the plugin's writes are: on PostgreSQL a batch's transaction runs
// only those.
const insertStatement = compiledCommand<'userId' | 'key' | 'value' | 'at'>((db, p) => db.insertInto('user_preference').values({
  user_id: p('userId'), key: p('key'), value: p('value'), created_at: p('at'), last_updated_at: p('at')
}))
const insert = (userId: number, key: string) => async (q: Queryable) => {
  await insertStatement(q, { userId, key, value: '1', at: '2026-01-01T00:00:00.000Z' })
  return key
}

const keysOf = async (db: Awaited<ReturnType<typeof batchedDb>>) =>
  (await db.selectFrom('user_preference').select(['user_id', 'key']).orderBy('id').execute()).map((r) => `${r.user_id}:${r.key}`)

t.test('the writes of one user that wait for the one in flight run together, in order', async (t) => {
  const db = await batchedDb(t)
  const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(async (key) => userWrite(db, 1, insert(1, key))))
  t.same(results, ['a', 'b', 'c', 'd', 'e'], 'each write gets its own result')
  t.same(await keysOf(db), ['1:a', '1:b', '1:c', '1:d', '1:e'], 'in arrival order')
  t.match(userBatchStats(db), { batches: 1, writes: 4, largestBatch: 4, recentBatches: [4], queued: 0 },
    'the first ran alone; the four that waited shared one transaction')
})

t.test('writes of different users never wait for each other', async (t) => {
  const db = await batchedDb(t)
  await Promise.all([1, 2, 3, 4].map(async (user) => userWrite(db, user, insert(user, 'k'))))
  t.equal((await keysOf(db)).length, 4)
  t.match(userBatchStats(db), { batches: 0, writes: 0 })
})

t.test('a conflict in a batch: the batch runs again write by write, each with its own answer', async (t) => {
  const db = await batchedDb(t)
  const results = await Promise.allSettled([
    userWrite(db, 1, insert(1, 'first')),
    userWrite(db, 1, insert(1, 'a')),
    userWrite(db, 1, insert(1, 'first')), // a unique violation
    userWrite(db, 1, insert(1, 'b'))
  ])
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
  t.match((results[2] as PromiseRejectedResult).reason, { code: BACKEND === 'sqlite' ? 'SQLITE_CONSTRAINT_UNIQUE' : '23505' })
  t.same(await keysOf(db), ['1:first', '1:a', '1:b'], 'exactly the others are stored, once each')
  t.match(userBatchStats(db), { batches: 1, writes: 3 })
})

t.test('any other failure in a batch fails the whole batch and stores none of it', async (t) => {
  const db = await batchedDb(t)
  const results = await Promise.allSettled([
    userWrite(db, 1, insert(1, 'first')),
    userWrite(db, 1, insert(1, 'a')),
    userWrite(db, 1, async (q) => { await insert(1, 'b')(q); throw new TypeError('a bug in one write') }),
    userWrite(db, 1, insert(1, 'c'))
  ])
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected'])
  for (const r of results.slice(1)) t.match((r as PromiseRejectedResult).reason, { message: 'a bug in one write' })
  t.same(await keysOf(db), ['1:first'], 'nothing of the failed batch is stored')
  // The user's next write is not stuck behind it.
  t.equal(await userWrite(db, 1, insert(1, 'later')), 'later')
})

t.test('past maxQueue writes waiting for one user, a write is refused at once', async (t) => {
  const db = await batchedDb(t, { maxBatch: 128, maxQueue: 2 })
  const results = await Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map(async (key) => userWrite(db, 1, insert(1, key))))
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected'])
  for (const r of results.slice(3)) t.match((r as PromiseRejectedResult).reason, { code: 'PREFERENCE_WRITE_QUEUE_FULL', statusCode: 503 })
  t.same(await keysOf(db), ['1:a', '1:b', '1:c'])
  t.match(userBatchStats(db), { refused: 2, queued: 0 })
  // Another user has a queue of its own.
  t.equal(await userWrite(db, 2, insert(2, 'x')), 'x')
})

t.test('maxBatch splits what waited into batches, in order', async (t) => {
  const db = await batchedDb(t, { maxBatch: 2, maxQueue: 1024 })
  await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map(async (key) => userWrite(db, 1, insert(1, key))))
  t.same(await keysOf(db), ['1:a', '1:b', '1:c', '1:d', '1:e', '1:f'])
  t.same(userBatchStats(db)?.recentBatches, [2, 2, 1])
})

t.test('inside a transaction a write runs there, not in a batch', async (t) => {
  const db = await batchedDb(t)
  await db.transaction().execute(async (trx) => {
    t.equal(await userWrite(trx, 1, insert(1, 'in')), 'in')
  })
  t.same(await keysOf(db), ['1:in'])
  t.match(userBatchStats(db), { batches: 0 })
})

t.test('without group commit nothing is batched', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t), { groupCommit: false })
  t.after(async () => { await db.destroy() })
  t.equal(userBatchStats(db), undefined)
})

t.test(`one user's concurrent creates over HTTP: each its own answer, the database and the log exact (${BACKEND})`, async (t) => {
  const { app, db, rows } = await build(t, { plugin: { maxPreferencesPerUser: 5 } })
  const c = client(app, token(7))
  t.equal((await c.create('taken', 0)).statusCode, 201)
  const responses = await Promise.all([
    ...Array.from({ length: 6 }, async (_, i) => c.create(`k${i}`, i)),
    c.create('taken', 1)
  ])
  const codes = responses.map((r) => r.statusCode < 300 ? String(r.statusCode) : r.json().code as string).sort()
  t.same(codes, ['201', '201', '201', '201', 'PREFERENCE_KEY_EXISTS', 'PREFERENCE_LIMIT_REACHED', 'PREFERENCE_LIMIT_REACHED'],
    'four fit under the limit of five, one key exists, two are over the limit')
  const stored = await rows()
  t.equal(stored.length, 5)
  t.same(stored.find((r) => r.key === 'taken')?.value, '0', 'the existing key is unchanged')
  const created = responses.filter((r) => r.statusCode === 201).map((r) => r.json().key as string).sort()
  t.same(stored.map((r) => r.key).filter((key) => key !== 'taken').sort(), created, 'exactly the acknowledged creates are stored')
  const log = await db.selectFrom('preference_change').select('rev').where('user_id', '=', 7).orderBy('rev').execute()
  t.same(log.map((r) => Number(r.rev)), [1, 2, 3, 4, 5], 'one revision per stored create, no gap')
  if (BACKEND === 'postgres') t.ok((userBatchStats(db)?.largestBatch ?? 0) > 1, 'the creates that waited shared a transaction')
})
