import { type Kysely, type Migration, type MigrationResultSet, Migrator, PostgresAdapter, sql } from 'kysely'
import * as createUserPreference from './migrations/2026-11-28-01-create-user-preference.js'

// Imported, not read from a folder, so the list travels inside the built package.
const migrations: Record<string, Migration> = {
  '2026-11-28-01-create-user-preference': createUserPreference
}

/**
 * @param migrationTableSchema where the migrator keeps its own tables (PostgreSQL): without
 * it, Kysely takes a migration table of the same name in any other schema for its own.
 */
export function createMigrator (db: Kysely<any>, migrationTableSchema?: string): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'user_preference_migration',
    migrationLockTableName: 'user_preference_migration_lock',
    ...(migrationTableSchema !== undefined && { migrationTableSchema })
  })
}

/** PostgreSQL's current schema (the first of search_path that exists); undefined on SQLite. */
async function currentSchema (db: Kysely<any>): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)
  return rows[0]?.schema ?? undefined
}

/**
 * Brings the schema up to date; throws the first migration error. On PostgreSQL the migrator's
 * tables are those of the current schema, where the migrations create the table too.
 */
export async function migrateToLatest (db: Kysely<any>): Promise<MigrationResultSet> {
  const result = await createMigrator(db, await currentSchema(db)).migrateToLatest()
  if (result.error !== undefined) {
    throw result.error instanceof Error ? result.error : new Error(String(result.error))
  }
  return result
}
