import type { Kysely } from 'kysely'
import { KeyExistsError, LimitReachedError } from '../schemas/errors.js'
import type { Preference } from '../schemas/preference.js'
import {
  countPreferences, insertPreference, lockUserForWrite, type Precondition, retryOnUniqueViolation, type Revised,
  selectForWrite, toPreference, updateValue
} from './preference-repository.js'
import { recordRevision, type RevisionLog } from './revision-repository.js'
import { writeTransaction } from './sqlite-group-commit.js'
import type { Database } from './types.js'

type Db = Kysely<Database>

export interface UpsertResult {
  preference: Preference
  /** True when the preference did not exist and was created. */
  created: boolean
}

/**
 * Sets the value of the user's preference `key`, creating it when it does not exist (within
 * the per-user limit). Reading, the precondition and the write happen in one transaction that
 * holds the user's write lock, so of two concurrent upserts of a new key one creates and the
 * other replaces.
 */
export async function upsertPreferenceByKey (
  db: Db, userId: number, key: string, valueJson: string, maxPerUser: number, log: RevisionLog,
  precondition?: Precondition, now: Date = new Date()
): Promise<Revised<UpsertResult>> {
  const timestamp = now.toISOString()
  return retryOnUniqueViolation(() => writeTransaction(db, async (trx) => {
    await lockUserForWrite(trx, userId)
    const current = await selectForWrite(trx, userId, { key })
    await precondition?.(current === undefined ? undefined : toPreference(current), trx)
    if (current !== undefined) {
      const [row] = await updateValue(trx, { userId, id: current.id, value: valueJson, now: timestamp })
      const rev = await recordRevision(trx, userId, log, [{ op: 'set', key, id: Number(row.id), valueJson }], timestamp)
      return { result: { preference: toPreference(row), created: false }, rev }
    }
    if (await countPreferences(trx, userId) >= maxPerUser) {
      throw new LimitReachedError(maxPerUser, `: this user already holds that many, so ${JSON.stringify(key)} cannot be created`)
    }
    const preference = await insertPreference(trx, userId, { key, valueJson }, timestamp)
    const rev = await recordRevision(trx, userId, log, [{ op: 'set', key, id: preference.id, valueJson }], timestamp,
      { countDelta: 1 })
    return { result: { preference, created: true }, rev }
  }), () => new KeyExistsError(key))
}
