import type { Kysely } from 'kysely'
import type { Preference } from '../schemas/preference.js'
import { isPostgres, lockUserForWrite, type Revised, toPreference } from './preference-repository.js'
import { currentRevision, recordRevision, type RevisionLog } from './revision-repository.js'
import { writeTransaction } from './sqlite-group-commit.js'
import type { Database } from './types.js'

type Db = Kysely<Database>

/**
 * Every preference of the user, ordered by id, and the revision they are at: read in one
 * transaction (REPEATABLE READ on PostgreSQL; SQLite's read transaction is a snapshot), so
 * that the revision names exactly the rows exported.
 */
export async function readAllPreferences (db: Db, userId: number, maxRevisions: number): Promise<{ rev: number, preferences: Preference[] }> {
  const transaction = isPostgres(db) ? db.transaction().setIsolationLevel('repeatable read') : db.transaction()
  return transaction.execute(async (trx) => {
    const { rev } = await currentRevision(trx, userId, maxRevisions)
    const rows = await trx.selectFrom('user_preference').selectAll().where('user_id', '=', userId).orderBy('id').execute()
    return { rev, preferences: rows.map(toPreference) }
  })
}

/**
 * Deletes every preference of the user and every revision in their change log, then records
 * the erasure as one revision (`erased`, no changes) and makes it the oldest that may be asked
 * for: all in one transaction, under the user's write lock (no create slips in between).
 * `check` sees the keys about to go, in the transaction, and throws to refuse.
 */
export async function erasePreferences (
  db: Db, userId: number, log: RevisionLog, check: (keys: string[], trx: Db) => Promise<void>, now: Date = new Date()
): Promise<Revised<{ deleted: number }>> {
  return writeTransaction(db, async (trx) => {
    await lockUserForWrite(trx, userId)
    let query = trx.selectFrom('user_preference').select('key').where('user_id', '=', userId)
    if (isPostgres(trx)) query = query.forUpdate()
    const keys = (await query.execute()).map((row) => row.key)
    await check(keys, trx)
    await trx.deleteFrom('user_preference').where('user_id', '=', userId).execute()
    await trx.deleteFrom('preference_change').where('user_id', '=', userId).execute()
    const rev = await recordRevision(trx, userId, log, [], now.toISOString(), { erased: true, countDelta: -keys.length })
    await trx.updateTable('user_revision').set({ floor: rev }).where('user_id', '=', userId).execute()
    return { result: { deleted: keys.length }, rev }
  })
}
