import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely'
import * as createUserPreference from './migrations/2026-11-28-01-create-user-preference.js'

// Imported, not read from a folder, so the list travels inside the built package.
const migrations: Record<string, Migration> = {
  '2026-11-28-01-create-user-preference': createUserPreference
}

export function createMigrator (db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'user_preference_migration',
    migrationLockTableName: 'user_preference_migration_lock'
  })
}

/** Brings the schema up to date; throws the first migration error. */
export async function migrateToLatest (db: Kysely<any>): Promise<MigrationResultSet> {
  const result = await createMigrator(db).migrateToLatest()
  if (result.error !== undefined) {
    throw result.error instanceof Error ? result.error : new Error(String(result.error))
  }
  return result
}
