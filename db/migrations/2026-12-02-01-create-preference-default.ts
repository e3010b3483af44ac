import { type Kysely, PostgresAdapter, sql } from 'kysely'

// Released: never edit. Add a new migration instead.

// Scope defaults: a value per (scope, key), for everyone ('site') or a group, optionally
// locked. `locked` is 0 or 1 on both backends, so that the same parameters bind on both.
export async function up (db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter
  await db.schema.createTable('preference_default')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_updated_at', postgres ? sql`timestamptz(3)` : 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('preference_default_pkey', ['scope', 'key'])
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('preference_default').execute()
}
