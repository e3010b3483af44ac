import type { Kysely } from 'kysely'
import { KeyExistsError, LimitReachedError } from '../schemas/errors.js'
import type { Preference } from '../schemas/preference.js'
import {
  countPreferences, insertPreference, isPostgres, lockUserForCreate, type NewPreference,
  retryOnUniqueViolation, type Revised, toPreference
} from './preference-repository.js'
import { type ChangeEntry, currentRevision, recordRevision, type RevisionLog } from './revision-repository.js'
import { writeTransaction } from './sqlite-group-commit.js'
import type { Database } from './types.js'

type Db = Kysely<Database>

/** What a merge patch does, decided from the stored preferences it touches. */
export interface PatchPlan {
  /** New values for keys, created when absent, in patch order. */
  writes: NewPreference[]
  /** Keys to delete (keys that do not exist are ignored). */
  deletes: string[]
}

export interface PatchOutcome {
  /** The created or updated preferences, in the order of `writes`. */
  results: Preference[]
  /** The keys that existed and were deleted, in the order of `deletes`. */
  deleted: string[]
}

// Keys per IN (...) list: far below SQLite's and PostgreSQL's limits on bound parameters.
const CHUNK = 500

function chunks<T> (items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

/**
 * Applies a bulk change to one user's preferences, all or nothing. In one transaction holding
 * the user's create lock: reads the stored preferences among `keys` (locked on PostgreSQL),
 * lets `plan` decide the writes from them (it throws to reject the patch), checks that the
 * user stays within `maxPerUser`, then deletes, updates and creates.
 */
export async function applyPreferencePatch (
  db: Db, userId: number, keys: string[], plan: (current: ReadonlyMap<string, Preference>) => PatchPlan,
  maxPerUser: number, log: RevisionLog, now: Date = new Date()
): Promise<Revised<PatchOutcome>> {
  const timestamp = now.toISOString()
  return retryOnUniqueViolation(() => writeTransaction(db, async (trx) => {
    await lockUserForCreate(trx, userId)
    const current = new Map<string, Preference>()
    for (const chunk of chunks(keys)) {
      let query = trx.selectFrom('user_preference').selectAll()
        .where('user_id', '=', userId)
        .where('key', 'in', chunk)
      if (isPostgres(trx)) query = query.forUpdate()
      for (const row of await query.execute()) current.set(row.key, toPreference(row))
    }

    const { writes, deletes } = plan(current)
    const deleted = deletes.filter((key) => current.has(key))
    const creates = writes.filter((write) => !current.has(write.key))
    if (creates.length > 0) {
      const room = maxPerUser - (await countPreferences(trx, userId) - deleted.length)
      if (creates.length > room) {
        const first = creates[Math.max(0, room)].key
        throw new LimitReachedError(maxPerUser, `: creating ${JSON.stringify(first)} would exceed that`)
      }
    }

    for (const chunk of chunks(deleted)) {
      await trx.deleteFrom('user_preference')
        .where('user_id', '=', userId)
        .where('key', 'in', chunk)
        .execute()
    }
    const results: Preference[] = []
    for (const write of writes) {
      const existing = current.get(write.key)
      if (existing === undefined) {
        results.push(await insertPreference(trx, userId, write, timestamp))
        continue
      }
      const row = await trx.updateTable('user_preference')
        .set({ value: write.valueJson, last_updated_at: timestamp })
        .where('user_id', '=', userId)
        .where('id', '=', existing.id)
        .returningAll()
        .executeTakeFirstOrThrow()
      results.push(toPreference(row))
    }
    // One revision for the whole patch; a patch that changed nothing makes none.
    const changes: ChangeEntry[] = [
      ...deleted.map((key) => ({ op: 'delete' as const, key, id: (current.get(key) as Preference).id })),
      ...writes.map((write, i) => ({ op: 'set' as const, key: write.key, id: results[i].id, valueJson: write.valueJson }))
    ]
    const rev = changes.length === 0
      ? (await currentRevision(trx, userId, log.maxRevisions)).rev
      : await recordRevision(trx, userId, log, changes, timestamp)
    return { result: { results, deleted }, rev }
  }), () => new KeyExistsError(keys[0] ?? ''))
}
