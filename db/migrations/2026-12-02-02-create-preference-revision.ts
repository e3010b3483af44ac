import { type Kysely, PostgresAdapter, sql } from 'kysely'

// Released: never edit. Add a new migration instead.

// Live sync: each user's revision counter, and the change log (one row per revision).
export async function up (db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter
  const bigint = postgres ? 'bigint' : 'integer'
  await db.schema.createTable('user_revision')
    .addColumn('user_id', bigint, (c) => c.primaryKey())
    .addColumn('rev', bigint, (c) => c.notNull())
    // The oldest revision that can still be asked for: the erasure, after an erase.
    .addColumn('floor', bigint, (c) => c.notNull().defaultTo(0))
    .execute()
  await db.schema.createTable('preference_change')
    .addColumn('user_id', bigint, (c) => c.notNull())
    .addColumn('rev', bigint, (c) => c.notNull())
    .addColumn('at', postgres ? sql`timestamptz(3)` : 'text', (c) => c.notNull())
    .addColumn('actor_id', bigint)
    .addColumn('actor_admin', 'integer')
    // A JSON array of {op, key, id, value?}, values as their stored JSON text.
    .addColumn('changes', 'text', (c) => c.notNull())
    .addColumn('erased', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('preference_change_pkey', ['user_id', 'rev'])
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('preference_change').execute()
  await db.schema.dropTable('user_revision').execute()
}
