import { type Kysely, type Migration, type MigrationResultSet, Migrator, PostgresAdapter, sql } from 'kysely'
import * as createUserPreference from './migrations/2026-11-28-01-create-user-preference.js'

// Imported, not read from a folder, so the list travels inside the built package.
const migrations: Record<string, Migration> = {
  '2026-11-28-01-create-user-preference': createUserPreference
}

/**
 * The migrator for `db`. On PostgreSQL, give the schema the tables live in (by default the
 * connection's current schema): without it Kysely looks for its migration tables in every
 * schema, and a copy in another schema would be taken for ours.
 */
export function createMigrator (db: Kysely<any>, schema?: string): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'user_preference_migration',
    migrationLockTableName: 'user_preference_migration_lock',
    ...(schema !== undefined && { migrationTableSchema: schema })
  })
}

/** Brings the schema up to date; throws the first migration error. */
export async function migrateToLatest (db: Kysely<any>): Promise<MigrationResultSet> {
  let schema: string | undefined
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db)
    schema = rows[0].schema
  }
  const result = await createMigrator(db, schema).migrateToLatest()
  if (result.error !== undefined) {
    throw result.error instanceof Error ? result.error : new Error(String(result.error))
  }
  return result
}
