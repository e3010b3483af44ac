import { type Kysely, type RawBuilder, sql } from 'kysely'
import { KeyExistsError, LimitReachedError } from '../schemas/errors.js'
import { JsonText } from '../lib/json-text.js'
import type { Preference } from '../schemas/preference.js'
import {
  countPreferences, insertPreference, isPostgres, lockUserForWrite, type NewPreference,
  retryOnUniqueViolation, type Revised, toPreference
} from './preference-repository.js'
import { type ChangeEntry, currentRevision, recordRevision, type RevisionLog } from './revision-repository.js'
import { compiledSql } from './direct/compiled-statements.js'
import { writeTransaction } from './sqlite-group-commit.js'
import type { Database, UserPreferenceRow } from './types.js'

type Db = Kysely<Database>

/** What a merge patch does, decided from the stored preferences it touches. */
export interface PatchPlan {
  /** New values for keys, created when absent, in patch order. */
  writes: NewPreference[]
  /** Keys to delete (keys that do not exist are ignored). */
  deletes: string[]
}

/**
 * Decides a bulk change from the stored preferences it may touch; throws to reject it. It runs
 * inside the transaction (`trx`), so that its own reads (locks) see what the write will see.
 */
export type PatchPlanner = (current: ReadonlyMap<string, Preference>, trx: Db) => PatchPlan | Promise<PatchPlan>

export interface PatchOptions {
  /** Decide and check everything (the limit included), write nothing and record no revision. */
  dryRun?: boolean
  now?: Date
}

export interface PatchOutcome {
  /** The created or updated preferences, in the order of `writes`. */
  results: Preference[]
  /** The keys that existed and were deleted, in the order of `deletes`. */
  deleted: string[]
}

// Each step is one statement over arrays of keys and values (PostgreSQL text arrays, SQLite
// JSON arrays), compiled once: a statement per chunk of 100 to 500 rows, each value its own
// parameter, was built and (on PostgreSQL) parsed and planned afresh on every call. Writes
// return only the ids: the caller knows the rest, and reading back a thousand stored values
// cost about as much as writing them.

/** `column` is one of the strings of array parameter `name` (see arrayOf). */
const inArray = (p: (name: string) => never, postgres: boolean, column: RawBuilder<unknown>, name: string) => postgres
  ? sql`${column} = any(cast(${p(name)} as text[]))`
  : sql`${column} in (select value from json_each(${p(name)}))`
/** An array parameter as the backend takes it. */
const arrayOf = (db: Db, items: ReadonlyArray<string | number>): unknown => isPostgres(db) ? items : JSON.stringify(items)

const readKeys = compiledSql<UserPreferenceRow>((p, postgres) => sql`select * from user_preference
  where user_id = ${p('userId')} and ${inArray(p, postgres, sql.ref('key'), 'keys')}${postgres ? sql` for update` : sql``}`)
const readAll = compiledSql<UserPreferenceRow>((p, postgres) => sql`select * from user_preference
  where user_id = ${p('userId')} order by id${postgres ? sql` for update` : sql``}`)
const deleteKeys = compiledSql((p, postgres) => sql`delete from user_preference
  where user_id = ${p('userId')} and ${inArray(p, postgres, sql.ref('key'), 'keys')}`)
// In the order given, so that the ids follow it. SQLite takes [key, value] pairs.
const insertMany = compiledSql<{ id: number | string, key: string }>((p, postgres) => postgres
  ? sql`insert into user_preference (user_id, key, value, created_at, last_updated_at)
    select cast(${p('userId')} as bigint), n.key, n.value, cast(${p('now')} as timestamptz), cast(${p('now')} as timestamptz)
    from unnest(cast(${p('keys')} as text[]), cast(${p('values')} as text[])) with ordinality as n (key, value, position)
    order by n.position
    returning id, key`
  : sql`insert into user_preference (user_id, key, value, created_at, last_updated_at)
    select ${p('userId')}, n.value ->> 0, n.value ->> 1, ${p('now')}, ${p('now')} from json_each(${p('pairs')}) n
    order by n.key
    returning id, key`)
const updateMany = compiledSql((p, postgres) => postgres
  ? sql`update user_preference u
    set value = n.value, last_updated_at = cast(${p('now')} as timestamptz)
    from unnest(cast(${p('ids')} as bigint[]), cast(${p('values')} as text[])) as n (id, value)
    where u.user_id = cast(${p('userId')} as bigint) and u.id = n.id`
  : sql`update user_preference
    set value = n.value ->> 1, last_updated_at = ${p('now')}
    from json_each(${p('pairs')}) n
    where user_preference.user_id = ${p('userId')} and user_preference.id = n.value ->> 0`)

/** A preference as a write stored it. */
const written = (id: number, userId: number, key: string, valueJson: string, createdAt: string, updatedAt: string): Preference =>
  ({ id, user_id: userId, key, value: new JsonText(valueJson), created_at: createdAt, last_updated_at: updatedAt })

/** Inserts the new preferences (the caller holds the write lock and checked the limit), ids in the order given. */
async function insertAll (trx: Db, userId: number, creates: NewPreference[], timestamp: string): Promise<Map<string, Preference>> {
  const created = new Map<string, Preference>()
  if (creates.length === 1) created.set(creates[0].key, await insertPreference(trx, userId, creates[0], timestamp))
  else if (creates.length > 1) {
    const rows = await insertMany(trx, isPostgres(trx)
      ? { userId, keys: creates.map((c) => c.key), values: creates.map((c) => c.valueJson), now: timestamp }
      : { userId, pairs: JSON.stringify(creates.map((c) => [c.key, c.valueJson])), now: timestamp })
    const values = new Map(creates.map((c) => [c.key, c.valueJson]))
    for (const { id, key } of rows) created.set(key, written(Number(id), userId, key, values.get(key) as string, timestamp, timestamp))
  }
  return created
}

async function deleteAll (trx: Db, userId: number, keys: string[]): Promise<void> {
  if (keys.length > 0) await deleteKeys(trx, { userId, keys: arrayOf(trx, keys) })
}

/** Gives stored preferences (`current`) new values. */
async function updateAll (
  trx: Db, userId: number, updates: NewPreference[], current: ReadonlyMap<string, Preference>, timestamp: string
): Promise<Map<string, Preference>> {
  const updated = new Map<string, Preference>()
  if (updates.length === 0) return updated
  const ids = updates.map((update) => (current.get(update.key) as Preference).id)
  await updateMany(trx, isPostgres(trx)
    ? { userId, ids, values: updates.map((u) => u.valueJson), now: timestamp }
    : { userId, pairs: JSON.stringify(updates.map((u, i) => [ids[i], u.valueJson])), now: timestamp })
  for (const [i, { key, valueJson }] of updates.entries()) {
    updated.set(key, written(ids[i], userId, key, valueJson, (current.get(key) as Preference).created_at, timestamp))
  }
  return updated
}

/** The user's stored preferences among `keys`, or all of them; locked on PostgreSQL. */
async function readForWrite (trx: Db, userId: number, keys: readonly string[] | 'all'): Promise<Map<string, Preference>> {
  const rows = keys === 'all' ? await readAll(trx, { userId }) : await readKeys(trx, { userId, keys: arrayOf(trx, keys) })
  return new Map(rows.map((row) => [row.key, toPreference(row)]))
}

/**
 * Applies a bulk change to one user's preferences, all or nothing (merge patch, import). In
 * one transaction holding the user's write lock: reads the stored preferences among `keys`
 * (or all of them; locked on PostgreSQL), lets `plan` decide the writes from them (it throws
 * to reject the change), checks that the user stays within `maxPerUser`, then deletes,
 * updates and creates, and records one revision (none when nothing changed, or a dry run).
 */
export async function applyPreferencePatch (
  db: Db, userId: number, keys: readonly string[] | 'all', plan: PatchPlanner,
  maxPerUser: number, log: RevisionLog, options: PatchOptions = {}
): Promise<Revised<PatchOutcome>> {
  const timestamp = (options.now ?? new Date()).toISOString()
  return retryOnUniqueViolation(() => writeTransaction(db, async (trx) => {
    const held = await lockUserForWrite(trx, userId)
    // Nothing stored (a first import, say): nothing to read.
    const current = held === 0 ? new Map<string, Preference>() : await readForWrite(trx, userId, keys)

    const { writes, deletes } = await plan(current, trx)
    const deleted = deletes.filter((key) => current.has(key))
    const creates = writes.filter((write) => !current.has(write.key))
    if (creates.length > 0) {
      const room = maxPerUser - ((held ?? await countPreferences(trx, userId)) - deleted.length)
      if (creates.length > room) {
        const first = creates[Math.max(0, room)].key
        throw new LimitReachedError(maxPerUser, `: creating ${JSON.stringify(first)} would exceed that`)
      }
    }
    if (options.dryRun === true) {
      return { result: { results: [], deleted }, rev: (await currentRevision(trx, userId, log.maxRevisions)).rev }
    }

    await deleteAll(trx, userId, deleted)
    const created = await insertAll(trx, userId, creates, timestamp)
    const updated = await updateAll(trx, userId, writes.filter((write) => current.has(write.key)), current, timestamp)
    const results = writes.map((write) => (created.get(write.key) ?? updated.get(write.key)) as Preference)
    // One revision for the whole patch; a patch that changed nothing makes none.
    const changes: ChangeEntry[] = [
      ...deleted.map((key) => ({ op: 'delete' as const, key, id: (current.get(key) as Preference).id })),
      ...writes.map((write, i) => ({ op: 'set' as const, key: write.key, id: results[i].id, valueJson: write.valueJson }))
    ]
    const rev = changes.length === 0
      ? (await currentRevision(trx, userId, log.maxRevisions)).rev
      : await recordRevision(trx, userId, log, changes, timestamp, { countDelta: creates.length - deleted.length })
    return { result: { results, deleted }, rev }
  }), () => new KeyExistsError(keys === 'all' ? '' : keys[0] ?? ''))
}
