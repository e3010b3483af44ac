import { type Kysely, sql } from 'kysely'
import { compiledCommand, compiledQuery, type Queryable } from './direct/compiled-statements.js'
import type { RevisionRow } from '../schemas/revision.js'
import type { Database, PreferenceChangeRow } from './types.js'

type Db = Kysely<Database>

/** Who made a revision: a user (admin or not), or null for the host application itself. */
export interface RevisionActor {
  id: number
  isAdmin: boolean
}

/** What a write records in the change log, and how much of it is kept. */
export interface RevisionLog {
  actor: RevisionActor | null
  /** Revisions kept per user; older ones are pruned. */
  maxRevisions: number
}

/** One change of a revision; `valueJson` is the stored JSON text (absent for a delete). */
export interface ChangeEntry {
  op: 'set' | 'delete'
  key: string
  id: number
  valueJson?: string
}

const quote = JSON.stringify
const toIso = (value: string | Date): string => typeof value === 'string' ? value : value.toISOString()

/** The changes as the JSON text the log keeps (values as stored, not parsed again). */
export function changesJson (changes: readonly ChangeEntry[]): string {
  let out = ''
  for (const c of changes) {
    out += `${out === '' ? '' : ','}{"op":"${c.op}","key":${quote(c.key)},"id":${c.id}` +
      `${c.valueJson === undefined ? '' : `,"value":${c.valueJson}`}}`
  }
  return `[${out}]`
}

const bumpRevision = compiledQuery<'userId' | 'delta', { rev: number | string }>((db, p) =>
  db.insertInto('user_revision')
    // A user's first revision row counts what the user holds (the write's own rows included:
    // it runs after them), so that rows written before this table existed are counted too.
    // Counted only then: the inserted values are computed even when the row exists and the
    // conflict branch ignores them, and counting is a scan of all the user's rows.
    .values((eb) => ({
      user_id: p('userId'),
      rev: sql.lit(1) as never,
      floor: sql.lit(0) as never,
      preference_count: eb.case()
        .when(eb.exists(eb.selectFrom('user_revision').select('user_id').where('user_id', '=', p('userId')))).then(sql.lit(0) as never)
        .else(eb.selectFrom('user_preference').select(eb.fn.countAll<number>().as('n')).where('user_id', '=', p('userId')))
        .end()
    }))
    .onConflict((oc) => oc.column('user_id').doUpdateSet({
      rev: sql`user_revision.rev + 1`,
      preference_count: sql`user_revision.preference_count + ${p('delta')}`
    }))
    .returning('rev'))

const insertChange = compiledCommand<'userId' | 'rev' | 'at' | 'actorId' | 'actorAdmin' | 'changes' | 'erased'>((db, p) =>
  db.insertInto('preference_change').values({
    user_id: p('userId'), rev: p('rev'), at: p('at'), actor_id: p('actorId'), actor_admin: p('actorAdmin'), changes: p('changes'), erased: p('erased')
  }))

const pruneChanges = compiledCommand<'userId' | 'upTo'>((db, p) =>
  db.deleteFrom('preference_change').where('user_id', '=', p('userId')).where('rev', '<=', p('upTo')))

/** What a revision does besides its changes. */
export interface RevisionEffects {
  /** How many preferences the revision added (negative: removed). */
  countDelta?: number
  /** The revision is an erasure. */
  erased?: boolean
}

/**
 * Adds one revision for the user, in the caller's transaction (so a change never commits
 * without its log entry, nor the reverse), keeps the user's preference count, and prunes what
 * falls out of the kept window. Returns the new revision.
 */
export async function recordRevision (
  trx: Queryable, userId: number, log: RevisionLog, changes: readonly ChangeEntry[], at: string,
  { countDelta = 0, erased = false }: RevisionEffects = {}
): Promise<number> {
  const [{ rev: raw }] = await bumpRevision(trx, { userId, delta: countDelta })
  const rev = Number(raw)
  await insertChange(trx, {
    userId,
    rev,
    at,
    actorId: log.actor?.id ?? null,
    actorAdmin: log.actor === null ? null : (log.actor.isAdmin ? 1 : 0),
    changes: changesJson(changes),
    erased: erased ? 1 : 0
  })
  if (rev > log.maxRevisions) await pruneChanges(trx, { userId, upTo: rev - log.maxRevisions })
  return rev
}

const selectRevision = compiledQuery<'userId', { rev: number | string, floor: number | string }>((db, p) =>
  db.selectFrom('user_revision').select(['rev', 'floor']).where('user_id', '=', p('userId')))

/** The user's current revision (0 before any change) and the oldest one that may be asked for. */
export async function currentRevision (db: Queryable, userId: number, maxRevisions: number): Promise<{ rev: number, oldest: number }> {
  const [row] = await selectRevision(db, { userId })
  const rev = row === undefined ? 0 : Number(row.rev)
  const floor = row === undefined ? 0 : Number(row.floor)
  return { rev, oldest: Math.max(1, floor, rev - maxRevisions + 1) }
}

/** The current revision of each of `userIds` that has one (a user without is at 0). */
export async function currentRevisions (db: Db, userIds: readonly number[]): Promise<Map<number, number>> {
  const revs = new Map<number, number>()
  // In slices: a statement takes a bounded number of parameters.
  for (let at = 0; at < userIds.length; at += 1000) {
    const rows = await db.selectFrom('user_revision').select(['user_id', 'rev'])
      .where('user_id', 'in', userIds.slice(at, at + 1000)).execute()
    for (const row of rows) revs.set(Number(row.user_id), Number(row.rev))
  }
  return revs
}

/** Kept revisions after `since`, oldest first, at most `limit`. */
export async function listRevisions (db: Db, userId: number, since: number, oldest: number, limit: number): Promise<PreferenceChangeRow[]> {
  return db.selectFrom('preference_change').selectAll()
    .where('user_id', '=', userId).where('rev', '>', Math.max(since, oldest - 1))
    .orderBy('rev').limit(limit).execute()
}

/** Kept revisions whose changes may name `key` (the caller filters exactly), newest first. */
export async function revisionsNaming (db: Db, userId: number, key: string, oldest: number): Promise<PreferenceChangeRow[]> {
  const needle = `%"key":${JSON.stringify(key).replace(/[\\%_]/g, (c) => `\\${c}`)},%`
  return db.selectFrom('preference_change').selectAll()
    .where('user_id', '=', userId).where('rev', '>=', oldest)
    .where(sql<boolean>`changes like ${needle} escape '\\'`)
    .orderBy('rev', 'desc').execute()
}

export function toRevisionRow (row: PreferenceChangeRow): RevisionRow {
  return {
    rev: Number(row.rev),
    at: toIso(row.at),
    actorId: row.actor_id === null ? null : Number(row.actor_id),
    actorAdmin: row.actor_admin === null ? null : Number(row.actor_admin) === 1,
    changes: row.changes,
    erased: Number(row.erased) === 1
  }
}
