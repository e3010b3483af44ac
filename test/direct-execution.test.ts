import pg from 'pg'
import t from 'tap'
import { sql } from 'kysely'
import { compiledQuery, compiledTransaction, DirectTransaction } from '../db/direct/compiled-statements.js'
import { openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { deletePreference, findPreference, insertPreference, listPreferences } from '../db/preference-repository.js'
import { jsonTextOf } from '../lib/json-text.js'
import { BACKEND, freshDatabaseUrl } from './helper.js'

// Single statements skip Kysely's connection handling (db/direct/). They
// must still never run inside a transaction another request holds open.

const NOW = '2026-11-28T12:00:00.000Z'

t.test('a read issued while a transaction is open does not see its uncommitted row', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(() => db.destroy())
  await migrateToLatest(db)

  let pending: Promise<unknown> | undefined
  let insertedId = 0
  await t.rejects(db.transaction().execute(async (trx) => {
    insertedId = (await insertPreference(trx, 1, { key: 'theme', valueJson: '"dark"' }, NOW)).id
    pending = findPreference(db, 1, insertedId)
    await new Promise((resolve) => setImmediate(resolve))
    throw new Error('roll back')
  }), { message: 'roll back' })

  t.ok(insertedId > 0, 'the transaction inserted a row before rolling back')
  t.equal(await pending, undefined, 'the read ran outside the transaction: the rolled-back row was never visible')
})

t.test('a delete issued while a transaction is open is not undone by its rollback', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(() => db.destroy())
  await migrateToLatest(db)
  const kept = await insertPreference(db, 1, { key: 'layout', valueJson: '{"cols":2}' }, NOW)

  let pending: Promise<unknown> | undefined
  await t.rejects(db.transaction().execute(async (trx) => {
    await insertPreference(trx, 1, { key: 'other', valueJson: '1' }, NOW)
    pending = deletePreference(db, 1, { id: kept.id }, { actor: null, maxRevisions: 10 })
    await new Promise((resolve) => setImmediate(resolve))
    throw new Error('roll back')
  }), { message: 'roll back' })

  t.match(await pending, { result: true, rev: 1 }, 'the delete reports it deleted the row')
  t.equal(await findPreference(db, 1, kept.id), undefined, 'and the row stays deleted after the other transaction rolled back')
  const rows = await db.selectFrom('user_preference').select('key').execute()
  t.same(rows, [], 'the rolled-back insert left nothing either')
})

t.test('compiledTransaction: commits what its body wrote, and only then shows it', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(() => db.destroy())
  await migrateToLatest(db)

  let outside: Promise<unknown> | undefined
  const created = await compiledTransaction(db, async (trx) => {
    // On PostgreSQL opened by openDatabase the transaction is opened without Kysely.
    t.equal(trx instanceof DirectTransaction, BACKEND === 'postgres', 'direct on PostgreSQL only')
    const inserted = await insertPreference(trx, 1, { key: 'theme', valueJson: '"dark"' }, NOW)
    outside = findPreference(db, 1, inserted.id)
    // PostgreSQL answers it at once on another connection; SQLite's one connection is held by
    // this transaction, so there the read waits for its end (awaiting it here would deadlock).
    if (BACKEND === 'postgres') await outside
    return inserted
  })
  t.same(await outside, BACKEND === 'postgres' ? undefined : created, 'an outside read does not see the row before the commit')
  t.same(await findPreference(db, 1, created.id), created, 'the row is there after the commit')
})

t.test('compiledTransaction: a body that throws leaves nothing behind', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(() => db.destroy())
  await migrateToLatest(db)

  await t.rejects(compiledTransaction(db, async (trx) => {
    await insertPreference(trx, 1, { key: 'theme', valueJson: '"dark"' }, NOW)
    throw new Error('roll back')
  }), { message: 'roll back' })
  // A statement error inside the body (a duplicate key) rolls back what came before it.
  await insertPreference(db, 1, { key: 'taken', valueJson: '1' }, NOW)
  await t.rejects(compiledTransaction(db, async (trx) => {
    await insertPreference(trx, 1, { key: 'fresh', valueJson: '2' }, NOW)
    await insertPreference(trx, 1, { key: 'taken', valueJson: '3' }, NOW)
  }))

  const page = await listPreferences(db, 1, { keys: [], limit: 10, offset: 0 })
  t.same(page.results.map((p) => [p.key, jsonTextOf(p.value)]), [['taken', '1']], 'only the row written outside the transactions')
})

t.test('compiledTransaction on PostgreSQL: a connection lost mid-transaction fails the call, writes nothing, and the pool goes on', { skip: BACKEND !== 'postgres' && 'PostgreSQL only' }, async (t) => {
  const url = await freshDatabaseUrl(t)
  const { db } = openDatabase(url, { poolSize: 1 })
  t.after(() => db.destroy())
  await migrateToLatest(db)

  await t.rejects(compiledTransaction(db, async (trx) => {
    t.ok(trx instanceof DirectTransaction)
    const run = (trx as DirectTransaction).run
    await insertPreference(trx, 1, { key: 'lost', valueJson: '1' }, NOW)
    const { rows: [{ pid }] } = await run('select pg_backend_pid() as pid', []) as { rows: Array<{ pid: number }> }
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      await admin.query('select pg_terminate_backend($1)', [pid])
    } finally {
      await admin.end()
    }
    await run('select 1', [])
  }))

  // The pool's one connection is gone: the next statement runs on a new one.
  const kept = await insertPreference(db, 1, { key: 'kept', valueJson: '2' }, NOW)
  const page = await listPreferences(db, 1, { keys: [], limit: 10, offset: 0 })
  t.same(page.results.map((p) => p.key), [kept.key], 'the lost transaction wrote nothing; the pool works again')
})

t.test('a compiled query binds a value it uses several times once on PostgreSQL, and still reads right on both backends', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(() => db.destroy())
  const sum = compiledQuery<'a' | 'b', { n: number | string, m: number | string }>((db, p) => ({
    compile: () => sql<{ n: number | string, m: number | string }>`select cast(${p('a')} as integer) * 100 + cast(${p('b')} as integer) * 10
      + cast(${p('a')} as integer) as n, cast(${p('b')} as integer) + 1 as m`.compile(db)
  }))
  const sent: unknown[][] = []
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as { values?: unknown[] }
    if (Array.isArray(config?.values)) sent.push(config.values)
    return (query as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof query
  t.after(() => { pg.Client.prototype.query = query })

  const [row] = await sum(db, { a: 3, b: 4 })
  t.same([Number(row.n), Number(row.m)], [343, 5])
  if (BACKEND === 'postgres') t.same(sent, [[3, 4]], 'one parameter per named value')

  const literal = compiledQuery<'a', { s: string }>((db, p) => ({ compile: () => sql<{ s: string }>`select '$1' || cast(${p('a')} as text) as s`.compile(db) }))
  if (BACKEND === 'postgres') await t.rejects(literal(db, { a: 'x' }), /unexpected \$1/, 'a "$" and digits in a literal is refused, not renumbered')
  else t.same(await literal(db, { a: 'x' }), [{ s: '$1x' }])
})
