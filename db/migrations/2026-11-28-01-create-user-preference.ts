import { type Kysely, PostgresAdapter, sql } from 'kysely'

// Released: never edit. Add a new migration instead.

export async function up (db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter

  let table = db.schema.createTable('user_preference')
  table = postgres
    ? table
      .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
      .addColumn('user_id', 'bigint', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('created_at', sql`timestamptz(3)`, (c) => c.notNull())
      .addColumn('last_updated_at', sql`timestamptz(3)`, (c) => c.notNull())
    : table
      // AUTOINCREMENT: ids of deleted preferences are never handed out again.
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_updated_at', 'text', (c) => c.notNull())
  await table.execute()

  // One key per user; also the index behind every lookup by key.
  await db.schema.createIndex('user_preference_user_id_key_unique')
    .on('user_preference')
    .columns(['user_id', 'key'])
    .unique()
    .execute()

  // Listing is "WHERE user_id = ? ORDER BY id": this index serves it without a sort.
  await db.schema.createIndex('user_preference_user_id_id_idx')
    .on('user_preference')
    .columns(['user_id', 'id'])
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('user_preference').execute()
}
