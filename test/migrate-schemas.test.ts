import t from 'tap'
import { openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { freshDatabaseUrl } from './helper.js'

// Two databases of the suite's backend, migrated one after the other: on PostgreSQL these
// are two schemas of one database (search_path), as two tenants or two parallel tests are.
// Kysely's migrator, not told a schema, took the first schema's bookkeeping tables for the
// second's and failed with 'relation "user_preference_migration_lock" does not exist'.
t.test('a second schema of the same database migrates too', async (t) => {
  for (const round of [1, 2]) {
    const { db } = openDatabase(await freshDatabaseUrl(t))
    t.teardown(() => db.destroy())
    const { results = [] } = await migrateToLatest(db)
    t.same(results.map((r) => r.status), ['Success'], `database ${round}: the migration ran`)
    await db.insertInto('user_preference').values({
      user_id: 1, key: `k${round}`, value: '1', created_at: new Date().toISOString(), last_updated_at: new Date().toISOString()
    }).execute()
    const rows = await db.selectFrom('user_preference').select('key').execute()
    t.same(rows, [{ key: `k${round}` }], `database ${round} holds only its own row`)
    t.same((await migrateToLatest(db)).results, [], `database ${round}: nothing left to run`)
  }
})
