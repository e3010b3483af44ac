import { type Kysely, PostgresAdapter, sql } from 'kysely'
import { KeyExistsError, LimitReachedError } from '../errors.js'
import type { Preference } from '../schemas/preference.js'
import type { Database, UserPreferenceRow } from './types.js'

// Every query here is scoped by user_id and served by the (user_id, key) unique index or
// the (user_id, id) index: nothing scans across users.

type Db = Kysely<Database>

export interface NewPreference {
  key: string
  /** The value's compact JSON text (JSON.stringify), already size-checked. */
  valueJson: string
}

export interface PreferenceChanges {
  key?: string
  valueJson?: string
}

export interface ListFilter {
  /** Exact keys that must all match (the `key` and `search` query parameters). */
  keys: string[]
  limit: number
  offset: number
}

export interface PreferencePage {
  count: number
  results: Preference[]
}

const toIso = (value: string | Date): string => typeof value === 'string' ? value : value.toISOString()

export function toPreference (row: UserPreferenceRow): Preference {
  return {
    id: Number(row.id),
    user_id: Number(row.user_id),
    key: row.key,
    value: JSON.parse(row.value),
    created_at: toIso(row.created_at),
    last_updated_at: toIso(row.last_updated_at)
  }
}

/** A unique-constraint violation, in SQLite's or PostgreSQL's words. */
export function isUniqueViolation (error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505'
}

function isPostgres (db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter
}

export async function findPreference (db: Db, userId: number, id: number): Promise<Preference | undefined> {
  const row = await db.selectFrom('user_preference').selectAll()
    .where('user_id', '=', userId)
    .where('id', '=', id)
    .executeTakeFirst()
  return row === undefined ? undefined : toPreference(row)
}

export async function findPreferenceByKey (db: Db, userId: number, key: string): Promise<Preference | undefined> {
  const row = await db.selectFrom('user_preference').selectAll()
    .where('user_id', '=', userId)
    .where('key', '=', key)
    .executeTakeFirst()
  return row === undefined ? undefined : toPreference(row)
}

export async function listPreferences (db: Db, userId: number, filter: ListFilter): Promise<PreferencePage> {
  let query = db.selectFrom('user_preference').where('user_id', '=', userId)
  for (const key of filter.keys) query = query.where('key', '=', key)

  const { count } = await query
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .executeTakeFirstOrThrow()
  const total = Number(count)
  if (total === 0 || filter.offset >= total) return { count: total, results: [] }

  const rows = await query.selectAll()
    .orderBy('id')
    .limit(filter.limit)
    .offset(filter.offset)
    .execute()
  return { count: total, results: rows.map(toPreference) }
}

// Two-key advisory lock class for "creating a preference for user N" on PostgreSQL.
const CREATE_LOCK_CLASS = 0x70726566 // 'pref'

/**
 * Inserts a preference unless the key exists (KeyExistsError) or the user is at the limit
 * (LimitReachedError). Counting and inserting happen in one transaction that is serialised
 * per user, so concurrent creates cannot overshoot the limit.
 */
export async function createPreference (
  db: Db, userId: number, input: NewPreference, maxPerUser: number, now: Date = new Date()
): Promise<Preference> {
  const timestamp = now.toISOString()
  const postgres = isPostgres(db)
  try {
    return await db.transaction().execute(async (trx) => {
      if (postgres) {
        await sql`select pg_advisory_xact_lock(${CREATE_LOCK_CLASS}::int, (${userId}::bigint % 2147483647)::int)`.execute(trx)
      }
      const { count } = await trx.selectFrom('user_preference')
        .select((eb) => eb.fn.countAll<number | string>().as('count'))
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow()
      if (Number(count) >= maxPerUser) {
        // At the limit, a duplicate key is still the more useful answer.
        const existing = await trx.selectFrom('user_preference').select('id')
          .where('user_id', '=', userId).where('key', '=', input.key).executeTakeFirst()
        if (existing !== undefined) throw new KeyExistsError(input.key)
        throw new LimitReachedError(maxPerUser)
      }
      const row = await trx.insertInto('user_preference')
        .values({
          user_id: userId,
          key: input.key,
          value: input.valueJson,
          created_at: timestamp,
          last_updated_at: timestamp
        })
        .returningAll()
        .executeTakeFirstOrThrow()
      return toPreference(row)
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new KeyExistsError(input.key)
    throw error
  }
}

/** Applies the changes; undefined when the user has no preference with that id. */
export async function updatePreference (
  db: Db, userId: number, id: number, changes: PreferenceChanges, now: Date = new Date()
): Promise<Preference | undefined> {
  try {
    const row = await db.updateTable('user_preference')
      .set({
        ...(changes.key !== undefined && { key: changes.key }),
        ...(changes.valueJson !== undefined && { value: changes.valueJson }),
        last_updated_at: now.toISOString()
      })
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst()
    return row === undefined ? undefined : toPreference(row)
  } catch (error) {
    if (isUniqueViolation(error)) throw new KeyExistsError(changes.key ?? '')
    throw error
  }
}

/** True when a preference was deleted. */
export async function deletePreference (db: Db, userId: number, id: number): Promise<boolean> {
  const result = await db.deleteFrom('user_preference')
    .where('user_id', '=', userId)
    .where('id', '=', id)
    .executeTakeFirst()
  return result.numDeletedRows > 0n
}
