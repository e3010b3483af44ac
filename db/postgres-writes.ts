import { type RawBuilder, sql } from 'kysely'
import { compiledSql, type Queryable } from './direct/compiled-statements.js'
import { userWrite } from './postgres-user-batches.js'
import type { RevisionLog } from './revision-repository.js'
import type { KeyPolicy, UserPreferenceRow } from './types.js'

// PostgreSQL writes as one statement each, in autocommit: the user's revision row is locked
// first (so every write of a user, here or in a transaction, takes its locks in one order),
// then the preference is written, the revision bumped with the preference count, the change
// logged and the log pruned. One round trip, and the user's lock is held for one statement
// and its commit instead of a transaction's worth of round trips. A non-admin's write also
// checks the scope locks in the statement (`scopes`, an array: none for an admin); a
// locked key writes nothing, and the caller finds out why on its slower path.

/** A row of user_preference and the revision its write made. */
export type RevisedRow = UserPreferenceRow & { revision: number | string }

type Param = (name: string) => never

// Each write prunes the revision that falls out of the log, looking only this far back: the
// rows it deleted before stay in the index as dead entries until a vacuum, and a scan from the
// first revision visited all of them on every write (8,000 pruned since the last vacuum:
// 0.65 ms of the statement's 0.96 ms). Older leftovers (after maxRevisions was
// lowered) go with the user's next write in a transaction, which prunes the whole range.
const PRUNE_WINDOW = 64

// The log entry and pruning shared by every statement below; `changes` is the JSON text of
// the revision's changes, built from the rows the statement wrote.
const logAndPrune = (p: Param, from: RawBuilder<unknown>, changes: RawBuilder<string>) => sql`
  logged as (
    insert into preference_change (user_id, rev, at, actor_id, actor_admin, changes, erased)
    select cast(${p('userId')} as bigint), bumped.rev, cast(${p('now')} as timestamptz), cast(${p('actorId')} as bigint),
      cast(${p('actorAdmin')} as integer), ${changes}, 0
    from ${from}
  ),
  pruned as (
    delete from preference_change
    where user_id = cast(${p('userId')} as bigint)
      and rev <= (select rev from bumped) - cast(${p('maxRevisions')} as bigint)
      and rev > (select rev from bumped) - cast(${p('maxRevisions')} as bigint) - ${sql.lit(PRUNE_WINDOW)}
  )`

/** True when no scope of the `scopes` parameter (a text array) locks any of `keys`. */
const unlocked = (p: Param, ...keys: Array<RawBuilder<unknown>>) => sql`not exists (
    select 1 from preference_default l
    where l.locked = 1 and l.key in (${sql.join(keys)}) and l.scope = any(cast(${p('scopes')} as text[])))`

/**
 * True when the `policy` parameter (a KeyPolicy as JSON, or null for none) lets the write
 * touch `key`: its exact entry, else its longest matching prefix, else the unknown-key verdict.
 * It lets a write check the registry on a key it has not read.
 */
const allowed = (p: Param, key: RawBuilder<unknown>) => sql`(cast(${p('policy')} as jsonb) is null or coalesce(
    cast(cast(${p('policy')} as jsonb) -> 'exact' -> ${key} as boolean),
    (select cast(e ->> 1 as boolean) from jsonb_array_elements(cast(${p('policy')} as jsonb) -> 'prefixes') e
      where length(${key}) > length(e ->> 0) and starts_with(${key}, e ->> 0) order by length(e ->> 0) desc limit 1),
    cast(cast(${p('policy')} as jsonb) ->> 'unknown' as boolean)))`

/** The preference's change entry as JSON text, its value as stored (see changesJson). */
const setEntry = (row: string, value: RawBuilder<unknown>) =>
  sql<string>`'{"op":"set","key":' || to_json(${sql.ref(`${row}.key`)})::text || ',"id":' || ${sql.ref(`${row}.id`)}::text || ',"value":' || ${value} || '}'`
const deleteEntry = (row: string, key: RawBuilder<unknown> = sql.ref(`${row}.key`)) =>
  sql<string>`'{"op":"delete","key":' || to_json(${key})::text || ',"id":' || ${sql.ref(`${row}.id`)}::text || '}'`

// Inserts within the per-user limit: the revision row is bumped only while the count is below
// it (re-checked on the locked row), and the insert reads from the bump. A duplicate key fails
// the whole statement with a unique violation.
const createStatement = compiledSql<RevisedRow>((p) => sql`
  with bumped as (
    insert into user_revision as r (user_id, rev, floor, preference_count)
    select cast(${p('userId')} as bigint), 1, 0,
      -- Counted only for a user who has no revision row yet (then on conflict never fires).
      1 + (select count(*) from user_preference where user_id = cast(${p('userId')} as bigint)
        and not exists (select 1 from user_revision where user_id = cast(${p('userId')} as bigint)))
    where ${unlocked(p, sql`cast(${p('key')} as text)`)}
    on conflict (user_id) do update set rev = r.rev + 1, preference_count = r.preference_count + 1
    where r.preference_count < cast(${p('max')} as integer)
    returning r.rev
  ),
  inserted as (
    insert into user_preference (user_id, key, value, created_at, last_updated_at)
    select cast(${p('userId')} as bigint), cast(${p('key')} as text), cast(${p('value')} as text),
      cast(${p('now')} as timestamptz), cast(${p('now')} as timestamptz)
    from bumped
    returning *
  ),
  ${logAndPrune(p, sql`bumped, inserted`, sql`'[' || ${setEntry('inserted', sql`cast(${p('value')} as text)`)} || ']'`)}
  select inserted.*, bumped.rev as revision from inserted, bumped`)

// `expected*` are the key, value and last update the caller read and checked; null to write
// whatever is stored. Nothing is written when the row differs from them (or is gone).
const unchanged = (p: Param, row: string) => sql`(cast(${p('expectedKey')} as text) is null or (
    ${sql.ref(`${row}.key`)} = cast(${p('expectedKey')} as text)
    and ${sql.ref(`${row}.value`)} = cast(${p('expectedValue')} as text)
    and ${sql.ref(`${row}.last_updated_at`)} = cast(${p('expectedAt')} as timestamptz)))`

const locked = (p: Param) => sql`
  locked as (select user_id from user_revision where user_id = cast(${p('userId')} as bigint) for update)`

const updateStatement = (target: 'id' | 'key') => compiledSql<RevisedRow & { old_key: string }>((p) => sql`
  with ${locked(p)},
  updated as (
    update user_preference u
    set key = coalesce(cast(${p('key')} as text), u.key), value = coalesce(cast(${p('value')} as text), u.value),
      last_updated_at = cast(${p('now')} as timestamptz)
    from locked
    where u.user_id = cast(${p('userId')} as bigint) and ${target === 'id'
      ? sql`u.id = cast(${p('id')} as bigint)`
      : sql`u.key = cast(${p('targetKey')} as text)`} and ${unchanged(p, 'u')}
      and ${unlocked(p, sql`u.key`, sql`coalesce(cast(${p('key')} as text), u.key)`)} and ${allowed(p, sql`u.key`)}
    returning u.*
  ),
  bumped as (
    update user_revision r set rev = r.rev + 1 from updated
    where r.user_id = cast(${p('userId')} as bigint)
    returning r.rev
  ),
  ${logAndPrune(p, sql`bumped, updated`, sql`'[' ||
    case when cast(${p('expectedKey')} as text) is not null and cast(${p('expectedKey')} as text) <> updated.key
      then ${deleteEntry('updated', sql`cast(${p('expectedKey')} as text)`)} || ',' else '' end ||
    ${setEntry('updated', sql.ref('updated.value'))} || ']'`)}
  select updated.*, bumped.rev as revision, cast(${p('expectedKey')} as text) as old_key from updated, bumped`)
const updateByIdStatement = updateStatement('id')
const updateByKeyStatement = updateStatement('key')

const deleteStatement = (target: 'id' | 'key') => compiledSql<{ id: number | string, key: string, revision: number | string }>((p) => sql`
  with ${locked(p)},
  deleted as (
    delete from user_preference d using locked
    where d.user_id = cast(${p('userId')} as bigint) and ${target === 'id'
      ? sql`d.id = cast(${p('id')} as bigint)`
      : sql`d.key = cast(${p('key')} as text)`} and ${unchanged(p, 'd')} and ${unlocked(p, sql`d.key`)} and ${allowed(p, sql`d.key`)}
    returning d.id, d.key
  ),
  bumped as (
    update user_revision r set rev = r.rev + 1, preference_count = r.preference_count - 1 from deleted
    where r.user_id = cast(${p('userId')} as bigint)
    returning r.rev
  ),
  ${logAndPrune(p, sql`bumped, deleted`, sql`'[' || ${deleteEntry('deleted')} || ']'`)}
  select deleted.id, deleted.key, bumped.rev as revision from deleted, bumped`)
const deleteByIdStatement = deleteStatement('id')
const deleteByKeyStatement = deleteStatement('key')

/** What the caller read and checked: the write happens only if the row still holds it. */
export interface ExpectedRow {
  key: string
  valueJson: string
  lastUpdatedAt: string
}

const revisionValues = (userId: number, log: RevisionLog, now: string, scopes: readonly string[], policy?: KeyPolicy) => ({
  userId,
  scopes: [...scopes],
  policy: policy === undefined ? null : JSON.stringify(policy),
  now,
  actorId: log.actor?.id ?? null,
  actorAdmin: log.actor === null ? null : (log.actor.isAdmin ? 1 : 0),
  maxRevisions: log.maxRevisions
})

const expectedValues = (expected: ExpectedRow | undefined) => ({
  expectedKey: expected?.key ?? null,
  expectedValue: expected?.valueJson ?? null,
  expectedAt: expected?.lastUpdatedAt ?? null
})

/**
 * Inserts and logs; undefined when the user is at `max` or one of `scopes` locks the key (a
 * duplicate key throws 23505).
 */
export async function createInOneStatement (
  db: Queryable, userId: number, key: string, valueJson: string, max: number, log: RevisionLog, now: string, scopes: readonly string[]
): Promise<RevisedRow | undefined> {
  const values = { ...revisionValues(userId, log, now, scopes), key, value: valueJson, max }
  const [row] = await userWrite(db, userId, async (q) => createStatement(q, values))
  return row
}

/**
 * Changes the key and/or the value of a preference (by id or by key) and logs it; undefined
 * when there is no such preference, it no longer holds `expected`, or one of `scopes` locks
 * its key or new key.
 */
export async function updateInOneStatement (
  db: Queryable, userId: number, target: { id: number } | { key: string }, changes: { key?: string, valueJson?: string },
  log: RevisionLog, now: string, scopes: readonly string[], expected?: ExpectedRow, policy?: KeyPolicy
): Promise<(RevisedRow & { old_key: string }) | undefined> {
  const values = {
    ...revisionValues(userId, log, now, scopes, policy), ...expectedValues(expected), key: changes.key ?? null, value: changes.valueJson ?? null
  }
  const [row] = await userWrite(db, userId, async (q) => 'id' in target
    ? updateByIdStatement(q, { ...values, id: target.id })
    : updateByKeyStatement(q, { ...values, targetKey: target.key }))
  return row
}

/** Deletes and logs; undefined when there is no such preference, it no longer holds `expected`, or it is locked. */
export async function deleteInOneStatement (
  db: Queryable, userId: number, target: { id: number } | { key: string }, log: RevisionLog, now: string, scopes: readonly string[],
  expected?: ExpectedRow, policy?: KeyPolicy
): Promise<{ id: number | string, key: string, revision: number | string } | undefined> {
  const values = { ...revisionValues(userId, log, now, scopes, policy), ...expectedValues(expected) }
  const [row] = await userWrite(db, userId, async (q) => 'id' in target
    ? deleteByIdStatement(q, { ...values, id: target.id })
    : deleteByKeyStatement(q, { ...values, key: target.key }))
  return row
}
