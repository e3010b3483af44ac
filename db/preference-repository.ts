import { type Kysely, PostgresAdapter, sql } from 'kysely'
import { KeyExistsError, LimitReachedError } from '../schemas/errors.js'
import type { Preference } from '../schemas/preference.js'
import { JsonText, jsonTextOf } from '../lib/json-text.js'
import { compiledCommand, compiledQuery, kyselyOf, type Queryable } from './direct/compiled-statements.js'
import { createInOneStatement, deleteInOneStatement, type ExpectedRow, updateInOneStatement } from './postgres-writes.js'
import { recordRevision, type RevisionLog } from './revision-repository.js'
import { compiledWriteTransaction, writeTransaction } from './sqlite-group-commit.js'
import type { Database, KeyPolicy, UserPreferenceRow } from './types.js'

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
export type Precondition = (current: Preference | undefined, trx: Kysely<Database>) => void | Promise<void>

/** Which of a user's preferences: by id or by key. */
export type PreferenceTarget = { id: number } | { key: string }

export const toIso = (value: string | Date): string => typeof value === 'string' ? value : value.toISOString()

export function toPreference (row: UserPreferenceRow): Preference {
  return {
    id: Number(row.id),
    user_id: Number(row.user_id),
    key: row.key,
    value: new JsonText(row.value),
    created_at: toIso(row.created_at),
    last_updated_at: toIso(row.last_updated_at)
  }
}

/** A unique-constraint violation, in SQLite's or PostgreSQL's words. */
function isUniqueViolation (error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505'
}

// Every write of a user takes the user's write lock, so a key cannot appear between a read and
// an insert of the same user's transaction; a host writing rows behind the plugin's back still
// can. The key then exists: running the transaction again replaces it instead of creating it.
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

export function isPostgres (db: Queryable): boolean {
  return kyselyOf(db).getExecutor().adapter instanceof PostgresAdapter
}

/**
 * Reads the target row for writing it in the same transaction. On PostgreSQL the row is
 * locked (SELECT ... FOR UPDATE) until the transaction ends. SQLite has no FOR UPDATE (it is
 * a syntax error there) and needs none: its write transactions are serialised.
 */
export async function selectForWrite (trx: Queryable, userId: number, target: PreferenceTarget): Promise<UserPreferenceRow | undefined> {
  const [row] = 'id' in target
    ? await selectByIdForWrite(trx, { userId, id: target.id })
    : await selectByKeyForWrite(trx, { userId, key: target.key })
  return row
}

// The queries on every request's path are compiled once (db/direct/compiled-statements.ts).
const selectByIdForWrite = compiledQuery<'userId' | 'id', UserPreferenceRow>((db, p) => {
  const query = db.selectFrom('user_preference').selectAll().where('user_id', '=', p('userId')).where('id', '=', p('id'))
  return isPostgres(db) ? query.forUpdate() : query
})
const selectByKeyForWrite = compiledQuery<'userId' | 'key', UserPreferenceRow>((db, p) => {
  const query = db.selectFrom('user_preference').selectAll().where('user_id', '=', p('userId')).where('key', '=', p('key'))
  return isPostgres(db) ? query.forUpdate() : query
})
const selectById = compiledQuery<'userId' | 'id', UserPreferenceRow>((db, p) =>
  db.selectFrom('user_preference').selectAll().where('user_id', '=', p('userId')).where('id', '=', p('id')))
const selectByKey = compiledQuery<'userId' | 'key', UserPreferenceRow>((db, p) =>
  db.selectFrom('user_preference').selectAll().where('user_id', '=', p('userId')).where('key', '=', p('key')))
const countAll = compiledQuery<'userId', { count: number | string }>((db, p) =>
  db.selectFrom('user_preference').select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('user_id', '=', p('userId')))
const countKey = compiledQuery<'userId' | 'key', { count: number | string }>((db, p) =>
  db.selectFrom('user_preference').select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('user_id', '=', p('userId')).where('key', '=', p('key')))
const pageAll = compiledQuery<'userId' | 'limit' | 'offset', UserPreferenceRow>((db, p) =>
  db.selectFrom('user_preference').selectAll().where('user_id', '=', p('userId'))
    .orderBy('id').limit(p('limit')).offset(p('offset')))
const pageKey = compiledQuery<'userId' | 'key' | 'limit' | 'offset', UserPreferenceRow>((db, p) =>
  db.selectFrom('user_preference').selectAll().where('user_id', '=', p('userId')).where('key', '=', p('key'))
    .orderBy('id').limit(p('limit')).offset(p('offset')))

export async function findPreference (db: Db, userId: number, id: number): Promise<Preference | undefined> {
  const [row] = await selectById(db, { userId, id })
  return row === undefined ? undefined : toPreference(row)
}

export async function findPreferenceByKey (db: Db, userId: number, key: string): Promise<Preference | undefined> {
  const [row] = await selectByKey(db, { userId, key })
  return row === undefined ? undefined : toPreference(row)
}

export async function listPreferences (db: Db, userId: number, filter: ListFilter): Promise<PreferencePage> {
  const keys = [...new Set(filter.keys)]
  // Two different exact keys cannot both match.
  if (keys.length > 1) return { count: 0, results: [] }
  const key = keys[0]

  const [{ count }] = key === undefined ? await countAll(db, { userId }) : await countKey(db, { userId, key })
  const total = Number(count)
  if (total === 0 || filter.offset >= total) return { count: total, results: [] }

  const { limit, offset } = filter
  const rows = key === undefined
    ? await pageAll(db, { userId, limit, offset })
    : await pageKey(db, { userId, key, limit, offset })
  return { count: total, results: rows.map(toPreference) }
}

const lockRevisionRow = compiledQuery<'userId', { preference_count: number | string }>((db, p) =>
  db.selectFrom('user_revision').select('preference_count').where('user_id', '=', p('userId')).forUpdate())
const addRevisionRow = compiledCommand<'userId'>((db, p) =>
  db.insertInto('user_revision').values((eb) => ({
    user_id: p('userId'),
    rev: sql.lit(0) as never,
    floor: sql.lit(0) as never,
    preference_count: eb.selectFrom('user_preference').select(eb.fn.countAll<number>().as('n')).where('user_id', '=', p('userId'))
  })).onConflict((oc) => oc.column('user_id').doNothing()))

/**
 * Serialises, per user, the transactions that write preferences on PostgreSQL: the user's
 * revision row is locked first (made when missing), as the single-statement writes do, so
 * that locks are always taken in one order; counting against the limit and inserting cannot
 * interleave, and two upserts of one new key cannot both insert. Gives the user's number of
 * preferences as the locked row keeps it. A no-op on SQLite, whose write transactions are
 * serialised anyway (undefined).
 */
export async function lockUserForWrite (trx: Queryable, userId: number): Promise<number | undefined> {
  if (!isPostgres(trx)) return undefined
  let [row] = await lockRevisionRow(trx, { userId })
  if (row === undefined) {
    await addRevisionRow(trx, { userId })
    ;[row] = await lockRevisionRow(trx, { userId })
  }
  return Number(row.preference_count)
}

/** How many preferences the user holds. */
export async function countPreferences (db: Db, userId: number): Promise<number> {
  const [{ count }] = await countAll(db, { userId })
  return Number(count)
}

/** Inserts without any check (callers hold the write lock and have checked the limit). */
const insertRow = compiledQuery<'userId' | 'key' | 'value' | 'now', UserPreferenceRow>((db, p) =>
  db.insertInto('user_preference')
    .values({ user_id: p('userId'), key: p('key'), value: p('value'), created_at: p('now'), last_updated_at: p('now') })
    .returningAll())

export async function insertPreference (trx: Queryable, userId: number, input: NewPreference, timestamp: string): Promise<Preference> {
  const [row] = await insertRow(trx, { userId, key: input.key, value: input.valueJson, now: timestamp })
  return toPreference(row)
}

/**
 * Inserts unless the user already holds `max` preferences: counting and inserting are one
 * statement, which inserts nothing at the limit. PostgreSQL needs the types of the selected
 * parameters spelt out; SQLite must not get them (it would read CAST(... AS timestamptz) as
 * a number).
 */
const insertBelowLimit = compiledQuery<'userId' | 'key' | 'value' | 'now' | 'max', UserPreferenceRow>((db, p) => {
  const typed = (value: never, type: 'bigint' | 'timestamptz') =>
    isPostgres(db) ? sql<never>`cast(${value} as ${sql.raw(type)})` : sql<never>`${value}`
  return db.insertInto('user_preference')
    .columns(['user_id', 'key', 'value', 'created_at', 'last_updated_at'])
    .expression(db.selectNoFrom((eb) => [
      typed(p('userId'), 'bigint').as('user_id'),
      eb.val(p('key')).as('key'),
      eb.val(p('value')).as('value'),
      typed(p('now'), 'timestamptz').as('created_at'),
      typed(p('now'), 'timestamptz').as('last_updated_at')
    ]).where((eb) => eb(
      // The count the user's revision row keeps; rows are counted only for a user without one.
      eb.fn.coalesce(
        eb.selectFrom('user_revision').select('preference_count').where('user_id', '=', p('userId')),
        eb.selectFrom('user_preference').select(eb.fn.countAll<number>().as('n')).where('user_id', '=', p('userId'))
      ),
      '<',
      p('max')
    )))
    .returningAll()
})

/** A write's result and the revision it made. */
export interface Revised<T> {
  result: T
  rev: number
}

/**
 * Inserts a preference unless the key exists (KeyExistsError) or the user is at the limit
 * (LimitReachedError), and logs the revision. On SQLite, in one transaction whose limit check
 * and insert are one statement (write transactions are serialised). On PostgreSQL, one
 * statement that checks the limit on the user's locked revision row, so that concurrent
 * creates cannot both see room for one more.
 */
export async function createPreference (
  db: Db, userId: number, input: NewPreference, maxPerUser: number, log: RevisionLog, now: Date = new Date(),
  lockScopes: readonly string[] = []
): Promise<Revised<Preference>> {
  const timestamp = now.toISOString()
  const values = { userId, key: input.key, value: input.valueJson, now: timestamp, max: maxPerUser }
  let created: Revised<Preference> | undefined
  try {
    if (isPostgres(db)) {
      const row = await createInOneStatement(db, userId, input.key, input.valueJson, maxPerUser, log, timestamp, lockScopes)
      created = row === undefined ? undefined : { result: toPreference(row), rev: Number(row.revision) }
    } else {
      created = await compiledWriteTransaction(db, async (trx) => {
        const [row] = await insertBelowLimit(trx, values)
        if (row === undefined) return undefined
        const preference = toPreference(row)
        const rev = await recordRevision(trx, userId, log,
          [{ op: 'set', key: preference.key, id: preference.id, valueJson: input.valueJson }], timestamp, { countDelta: 1 })
        return { result: preference, rev }
      })
    }
  } catch (error) {
    if (isUniqueViolation(error)) throw new KeyExistsError(input.key)
    throw error
  }
  if (created !== undefined) return created
  // Nothing inserted: the user is at the limit. A duplicate key is still the more useful answer.
  if (await findPreferenceByKey(db, userId, input.key) !== undefined) throw new KeyExistsError(input.key)
  throw new LimitReachedError(maxPerUser, ': this user already holds that many')
}

/**
 * PostgreSQL: creates in one statement, or gives undefined where createPreference would refuse
 * or the key was created meanwhile (the user at the limit, a lock of `lockScopes`, a duplicate
 * key): for a caller with a slower path that tells those apart.
 */
export async function createIfFree (
  db: Db, userId: number, input: NewPreference, maxPerUser: number, log: RevisionLog, lockScopes: readonly string[]
): Promise<Revised<Preference> | undefined> {
  try {
    const row = await createInOneStatement(db, userId, input.key, input.valueJson, maxPerUser, log, new Date().toISOString(), lockScopes)
    return row === undefined ? undefined : { result: toPreference(row), rev: Number(row.revision) }
  } catch (error) {
    if (isUniqueViolation(error)) return undefined
    throw error
  }
}

/** Sets the value of preference `id` (and its last_updated_at), giving the row. */
export const updateValue = compiledQuery<'userId' | 'id' | 'value' | 'now', UserPreferenceRow>((db, p) =>
  db.updateTable('user_preference').set({ value: p('value'), last_updated_at: p('now') })
    .where('user_id', '=', p('userId')).where('id', '=', p('id')).returningAll())
const updateKey = compiledQuery<'userId' | 'id' | 'key' | 'now', UserPreferenceRow>((db, p) =>
  db.updateTable('user_preference').set({ key: p('key'), last_updated_at: p('now') })
    .where('user_id', '=', p('userId')).where('id', '=', p('id')).returningAll())
const updateKeyAndValue = compiledQuery<'userId' | 'id' | 'key' | 'value' | 'now', UserPreferenceRow>((db, p) =>
  db.updateTable('user_preference').set({ key: p('key'), value: p('value'), last_updated_at: p('now') })
    .where('user_id', '=', p('userId')).where('id', '=', p('id')).returningAll())

async function applyChanges (
  db: Db, userId: number, id: number, changes: PreferenceChanges, now: Date
): Promise<Preference | undefined> {
  const { key, valueJson: value } = changes
  const at = { userId, id, now: now.toISOString() }
  const [row] = key === undefined
    ? await updateValue(db, { ...at, value })
    : value === undefined
      ? await updateKey(db, { ...at, key })
      : await updateKeyAndValue(db, { ...at, key, value })
  return row === undefined ? undefined : toPreference(row)
}

/**
 * Applies the changes and logs the revision, in one transaction; undefined when the user has
 * no preference with that id. A rename is logged as the old key's delete and the new key's set.
 */
export async function updatePreference (
  db: Db, userId: number, id: number, changes: PreferenceChanges, log: RevisionLog, precondition?: Precondition,
  now: Date = new Date()
): Promise<Revised<Preference> | undefined> {
  try {
    return await writeTransaction(db, async (trx) => {
      await lockUserForWrite(trx, userId)
      let before: Preference | undefined
      if (precondition !== undefined || changes.key !== undefined) {
        const current = await selectForWrite(trx, userId, { id })
        if (current === undefined) return undefined
        before = toPreference(current)
        await precondition?.(before, trx)
      }
      const preference = await applyChanges(trx, userId, id, changes, now)
      if (preference === undefined) return undefined
      const entries = before !== undefined && before.key !== preference.key
        ? [{ op: 'delete' as const, key: before.key, id }]
        : []
      const rev = await recordRevision(trx, userId, log,
        [...entries, { op: 'set', key: preference.key, id, valueJson: jsonTextOf(preference.value) }], preference.last_updated_at)
      return { result: preference, rev }
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new KeyExistsError(changes.key ?? '')
    throw error
  }
}

const deleteById = compiledQuery<'userId' | 'id', { id: number | string, key: string }>((db, p) =>
  db.deleteFrom('user_preference').where('user_id', '=', p('userId')).where('id', '=', p('id')).returning(['id', 'key']))
const deleteByKey = compiledQuery<'userId' | 'key', { id: number | string, key: string }>((db, p) =>
  db.deleteFrom('user_preference').where('user_id', '=', p('userId')).where('key', '=', p('key')).returning(['id', 'key']))

const deleteTarget = async (db: Queryable, userId: number, target: PreferenceTarget) =>
  'id' in target ? deleteById(db, { userId, id: target.id }) : deleteByKey(db, { userId, key: target.key })

/**
 * Deletes and logs the revision, in one transaction; undefined when there was nothing to
 * delete. With a precondition, it checks the stored preference first.
 */
export async function deletePreference (
  db: Db, userId: number, target: PreferenceTarget, log: RevisionLog, precondition?: Precondition, now: Date = new Date()
): Promise<Revised<true> | undefined> {
  return writeTransaction(db, async (trx) => {
    await lockUserForWrite(trx, userId)
    if (precondition !== undefined) {
      const current = await selectForWrite(trx, userId, target)
      if (current === undefined) return undefined
      await precondition(toPreference(current), trx)
    }
    const [row] = await deleteTarget(trx, userId, target)
    if (row === undefined) return undefined
    const rev = await recordRevision(trx, userId, log, [{ op: 'delete', key: row.key, id: Number(row.id) }], now.toISOString(),
      { countDelta: -1 })
    return { result: true as const, rev }
  })
}

const expectedRow = (expected: Preference | undefined): ExpectedRow | undefined => expected === undefined
  ? undefined
  : { key: expected.key, valueJson: jsonTextOf(expected.value), lastUpdatedAt: expected.last_updated_at }

/**
 * PostgreSQL only: changes a preference (by id or key) and logs the revision in one statement, provided
 * it still is `expected` (when given: the row the caller read and checked). Undefined when
 * there is no such preference or it changed since: the caller then takes the locking path.
 */
export async function updatePreferenceIfUnchanged (
  db: Db, userId: number, target: PreferenceTarget, changes: PreferenceChanges, log: RevisionLog, expected?: Preference,
  lockScopes: readonly string[] = [], policy?: KeyPolicy, now: Date = new Date()
): Promise<Revised<Preference> | undefined> {
  try {
    const row = await updateInOneStatement(db, userId, target, changes, log, now.toISOString(), lockScopes, expectedRow(expected), policy)
    return row === undefined ? undefined : { result: toPreference(row), rev: Number(row.revision) }
  } catch (error) {
    if (isUniqueViolation(error)) throw new KeyExistsError(changes.key ?? '')
    throw error
  }
}

/** PostgreSQL only: deletePreference in one statement, on the terms of updatePreferenceIfUnchanged. */
export async function deletePreferenceIfUnchanged (
  db: Db, userId: number, target: PreferenceTarget, log: RevisionLog, expected?: Preference, lockScopes: readonly string[] = [],
  policy?: KeyPolicy, now: Date = new Date()
): Promise<Revised<true> | undefined> {
  const row = await deleteInOneStatement(db, userId, target, log, now.toISOString(), lockScopes, expectedRow(expected), policy)
  return row === undefined ? undefined : { result: true, rev: Number(row.revision) }
}
