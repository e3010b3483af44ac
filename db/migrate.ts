import { type Kysely, type Migration, type MigrationResultSet, Migrator, PostgresAdapter, sql } from 'kysely'
import * as createUserPreference from './migrations/2026-11-28-01-create-user-preference.js'
import * as createPreferenceDefault from './migrations/2026-12-02-01-create-preference-default.js'
import * as createPreferenceRevision from './migrations/2026-12-02-02-create-preference-revision.js'
import * as addPreferenceCount from './migrations/2026-12-02-03-add-preference-count.js'

// Imported, not read from a folder, so the list travels inside the built package.
const migrations: Record<string, Migration> = {
  '2026-11-28-01-create-user-preference': createUserPreference,
  '2026-12-02-01-create-preference-default': createPreferenceDefault,
  '2026-12-02-02-create-preference-revision': createPreferenceRevision,
  '2026-12-02-03-add-preference-count': addPreferenceCount
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

/**
 * Kysely's migrator lists the tables of every schema of the database (pg_catalog) to find
 * its own. A schema dropped by someone else during that scan makes it fail with 3F000
 * ("schema ... does not exist"): seen when parallel test files drop their schemas, and
 * possible whenever tenants come and go. Nothing was migrated then; trying again is safe.
 */
const isConcurrentSchemaDrop = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === '3F000'

/** Brings the schema up to date; throws the first migration error. */
export async function migrateToLatest (db: Kysely<any>): Promise<MigrationResultSet> {
  const schema = await currentSchema(db)
  for (let attempt = 1; ; attempt++) {
    const result = await createMigrator(db, schema).migrateToLatest()
    if (result.error === undefined) return result
    if (attempt < 5 && isConcurrentSchemaDrop(result.error) && (result.results ?? []).every((r) => r.status !== 'Success')) {
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
      continue
    }
    throw result.error instanceof Error ? result.error : new Error(String(result.error))
  }
}
