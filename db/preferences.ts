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

/**
 * A check on the stored preference (undefined when there is none), run inside the writing
 * transaction with the row locked, so that nothing changes between the check and the write.
 * It throws to abort the write (e.g. If-Match does not match: 412).
 */
export type Precondition = (current: Preference | undefined) => void

/** Which of a user's preferences: by id or by key. */
export type PreferenceTarget = { id: number } | { key: string }

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

// A unique violation can still happen on PostgreSQL when a rename (PATCH or PUT by id, which
// do not take the create lock) lands on a key between a read and an insert. The key then
// exists: running the transaction again replaces it instead of creating it.
const UNIQUE_VIOLATION_ATTEMPTS = 3

/** Runs `transaction` again when it fails on a unique violation; `exhausted` makes the final error. */
export async function retryOnUniqueViolation<T> (transaction: () => Promise<T>, exhausted: () => Error): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction()
    } catch (error) {
      if (!isUniqueViolation(error)) throw error
      if (attempt >= UNIQUE_VIOLATION_ATTEMPTS) throw exhausted()
    }
  }
}

export function isPostgres (db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter
}

/**
 * Reads the target row for writing it in the same transaction. On PostgreSQL the row is
 * locked (SELECT ... FOR UPDATE) until the transaction ends. SQLite has no FOR UPDATE (it is
 * a syntax error there) and needs none: its write transactions are serialised.
 */
export async function selectForWrite (trx: Db, userId: number, target: PreferenceTarget): Promise<UserPreferenceRow | undefined> {
  let query = trx.selectFrom('user_preference').selectAll().where('user_id', '=', userId)
  query = 'id' in target ? query.where('id', '=', target.id) : query.where('key', '=', target.key)
  if (isPostgres(trx)) query = query.forUpdate()
  return query.executeTakeFirst()
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
 * Serialises, per user, the transactions that may create preferences (create, upsert by key,
 * merge patch), so that counting against the limit and inserting cannot interleave, and two
 * upserts of one new key cannot both insert. A no-op on SQLite, whose write transactions are
 * serialised anyway.
 */
export async function lockUserForCreate (trx: Db, userId: number): Promise<void> {
  if (!isPostgres(trx)) return
  await sql`select pg_advisory_xact_lock(${CREATE_LOCK_CLASS}::int, (${userId}::bigint % 2147483647)::int)`.execute(trx)
}

/** How many preferences the user holds. */
export async function countPreferences (db: Db, userId: number): Promise<number> {
  const { count } = await db.selectFrom('user_preference')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow()
  return Number(count)
}

/** Inserts without any check (callers hold the create lock and have checked the limit). */
export async function insertPreference (trx: Db, userId: number, input: NewPreference, timestamp: string): Promise<Preference> {
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
}

/**
 * Inserts a preference unless the key exists (KeyExistsError) or the user is at the limit
 * (LimitReachedError). Counting and inserting happen in one transaction that is serialised
 * per user, so concurrent creates cannot overshoot the limit.
 */
export async function createPreference (
  db: Db, userId: number, input: NewPreference, maxPerUser: number, now: Date = new Date()
): Promise<Preference> {
  try {
    return await db.transaction().execute(async (trx) => {
      await lockUserForCreate(trx, userId)
      if (await countPreferences(trx, userId) >= maxPerUser) {
        // At the limit, a duplicate key is still the more useful answer.
        const existing = await trx.selectFrom('user_preference').select('id')
          .where('user_id', '=', userId).where('key', '=', input.key).executeTakeFirst()
        if (existing !== undefined) throw new KeyExistsError(input.key)
        throw new LimitReachedError(maxPerUser, ': this user already holds that many')
      }
      return insertPreference(trx, userId, input, now.toISOString())
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new KeyExistsError(input.key)
    throw error
  }
}

async function applyChanges (
  db: Db, userId: number, id: number, changes: PreferenceChanges, now: Date
): Promise<Preference | undefined> {
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
}

/**
 * Applies the changes; undefined when the user has no preference with that id. With a
 * precondition, reading, checking and writing happen in one transaction.
 */
export async function updatePreference (
  db: Db, userId: number, id: number, changes: PreferenceChanges, precondition?: Precondition, now: Date = new Date()
): Promise<Preference | undefined> {
  try {
    if (precondition === undefined) return await applyChanges(db, userId, id, changes, now)
    return await db.transaction().execute(async (trx) => {
      const current = await selectForWrite(trx, userId, { id })
      if (current === undefined) return undefined
      precondition(toPreference(current))
      return applyChanges(trx, userId, id, changes, now)
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new KeyExistsError(changes.key ?? '')
    throw error
  }
}

async function deleteTarget (db: Db, userId: number, target: PreferenceTarget): Promise<boolean> {
  let query = db.deleteFrom('user_preference').where('user_id', '=', userId)
  query = 'id' in target ? query.where('id', '=', target.id) : query.where('key', '=', target.key)
  const result = await query.executeTakeFirst()
  return result.numDeletedRows > 0n
}

/**
 * True when a preference was deleted; false when there was none. With a precondition,
 * reading, checking and deleting happen in one transaction.
 */
export async function deletePreference (
  db: Db, userId: number, target: PreferenceTarget, precondition?: Precondition
): Promise<boolean> {
  if (precondition === undefined) return deleteTarget(db, userId, target)
  return db.transaction().execute(async (trx) => {
    const current = await selectForWrite(trx, userId, target)
    if (current === undefined) return false
    precondition(toPreference(current))
    return deleteTarget(trx, userId, target)
  })
}
