import { type Kysely, type Migration, type MigrationResultSet, Migrator, PostgresAdapter, sql } from 'kysely'
import * as createUserPreference from './migrations/2026-11-28-01-create-user-preference.js'

// Imported, not read from a folder, so the list travels inside the built package.
const migrations: Record<string, Migration> = {
  '2026-11-28-01-create-user-preference': createUserPreference
}

export function createMigrator (db: Kysely<any>, migrationTableSchema?: string): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'user_preference_migration',
    migrationLockTableName: 'user_preference_migration_lock',
    ...(migrationTableSchema !== undefined && { migrationTableSchema })
  })
}

/**
 * On PostgreSQL, the schema the tables go to (the first existing one of search_path).
 * Kysely's migrator looks for its bookkeeping tables in every schema when it is not told
 * one, so a second schema of the same database (another tenant, another test) that has
 * them would make it skip creating its own, and fail.
 */
async function currentSchema (db: Kysely<any>): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)
  return rows[0]?.schema ?? undefined
}

/** Brings the schema up to date; throws the first migration error. */
export async function migrateToLatest (db: Kysely<any>): Promise<MigrationResultSet> {
  const result = await createMigrator(db, await currentSchema(db)).migrateToLatest()
  if (result.error !== undefined) {
    throw result.error instanceof Error ? result.error : new Error(String(result.error))
  }
  return result
}
