import t from 'tap'
import { openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { deletePreference, findPreference, insertPreference } from '../db/preferences.js'
import { freshDatabaseUrl } from './helper.js'

// Single statements skip Kysely's connection handling (db/compiled.ts, db/connect.ts). They
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

  let pending: Promise<boolean> | undefined
  await t.rejects(db.transaction().execute(async (trx) => {
    await insertPreference(trx, 1, { key: 'other', valueJson: '1' }, NOW)
    pending = deletePreference(db, 1, { id: kept.id })
    await new Promise((resolve) => setImmediate(resolve))
    throw new Error('roll back')
  }), { message: 'roll back' })

  t.equal(await pending, true, 'the delete reports it deleted the row')
  t.equal(await findPreference(db, 1, kept.id), undefined, 'and the row stays deleted after the other transaction rolled back')
  const rows = await db.selectFrom('user_preference').select('key').execute()
  t.same(rows, [], 'the rolled-back insert left nothing either')
})
