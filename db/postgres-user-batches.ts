import type { Kysely } from 'kysely'
import { WriteQueueFullError } from '../schemas/errors.js'
import { compiledTransaction, DirectTransaction, type Queryable } from './direct/compiled-statements.js'
import { countBatch, type GroupCommitOptions, type GroupCommitStats } from './sqlite-group-commit.js'
import type { Database } from './types.js'

// Group commit on PostgreSQL, for the writes of one user. Every single-statement write locks
// its user's revision row until it commits, so the writes of one user run one after another,
// each holding the lock through its own commit and fsync. Here a write of a user who has none
// in flight runs at once, in autocommit, as before; the writes of that user that arrive
// meanwhile wait, and then run together in one transaction: one lock, one commit, one fsync.
// Each write's promise settles after that COMMIT.
//
// Measured (bench/pg-batching.ts): across many users, shared transactions do not pay
// (PostgreSQL already shares the fsync of concurrent commits, and a shared transaction costs
// round trips on one connection), so writes of different users are never put together.
//
// A batch has no savepoints (they cost two round trips a write, more than the batch saves).
// When a statement of a batch fails on a constraint or a conflict (a duplicate key, a
// deadlock), the transaction rolls back and every write of the batch runs again alone, for
// its own answer. Any other failure (a timeout, a lost connection) fails the whole batch, as
// it would have failed a write alone: its outcome is unknown, so nothing is run twice.

type Write = (db: Queryable) => Promise<unknown>

interface Job {
  write: Write
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/**
 * True for a statement refused on a constraint or a conflict (SQLSTATE class 23 or 40 on
 * PostgreSQL; SQLite's constraint codes, for the tests that run this on SQLite): the
 * transaction is then rolled back for sure, so each write may run again.
 */
function isConflict (error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return false
  return code.startsWith('SQLITE_CONSTRAINT') || (code.length === 5 && (code.startsWith('23') || code.startsWith('40')))
}

class UserBatches {
  /** Writes waiting per user who has one in flight (an empty list: one in flight, none waiting). */
  private readonly waiting = new Map<number, Job[]>()
  readonly stats: Omit<GroupCommitStats, 'queued'> = { batches: 0, writes: 0, largestBatch: 0, recentBatches: [], refused: 0 }

  constructor (private readonly db: Kysely<Database>, private readonly options: Required<GroupCommitOptions>) {}

  get queued (): number {
    let count = 0
    for (const jobs of this.waiting.values()) count += jobs.length
    return count
  }

  async run<T> (userId: number, write: (db: Queryable) => Promise<T>): Promise<T> {
    const jobs = this.waiting.get(userId)
    if (jobs === undefined) {
      this.waiting.set(userId, [])
      try {
        return await write(this.db)
      } finally {
        this.drain(userId).catch(() => {})
      }
    }
    if (jobs.length >= this.options.maxQueue) {
      this.stats.refused++
      throw new WriteQueueFullError(this.options.maxQueue)
    }
    return new Promise<T>((resolve, reject) => {
      jobs.push({ write, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  /** Runs what waited for `userId`, a batch at a time, until nothing does. Never throws. */
  private async drain (userId: number): Promise<void> {
    for (;;) {
      const jobs = this.waiting.get(userId) as Job[]
      if (jobs.length === 0) {
        this.waiting.delete(userId)
        return
      }
      const batch = jobs.splice(0, this.options.maxBatch)
      countBatch(this.stats, batch.length)
      if (batch.length === 1) await this.alone(batch[0])
      else await this.together(batch)
    }
  }

  private async alone (job: Job): Promise<void> {
    try {
      job.resolve(await job.write(this.db))
    } catch (error) {
      job.reject(error)
    }
  }

  private async together (batch: Job[]): Promise<void> {
    let results: unknown[]
    try {
      results = await compiledTransaction(this.db, async (trx) => {
        const values: unknown[] = []
        for (const job of batch) values.push(await job.write(trx))
        return values
      })
    } catch (error) {
      if (isConflict(error)) {
        // Rolled back: nothing of the batch was written.
        for (const job of batch) await this.alone(job)
      } else {
        for (const job of batch) job.reject(error)
      }
      return
    }
    batch.forEach((job, i) => { job.resolve(results[i]) })
  }
}

const batches = new WeakMap<Kysely<Database>, UserBatches>()

/** Makes the writes of one user on `db` (PostgreSQL, opened by openDatabase) that wait share a transaction. */
export function batchUserWrites (db: Kysely<Database>, options: Required<GroupCommitOptions>): void {
  batches.set(db, new UserBatches(db, options))
}

/**
 * Runs `write`, one statement of `userId`'s: on `target` as it is when `target` is a
 * transaction or does not batch, else alone or in a batch with the user's other waiting writes.
 */
export async function userWrite<T> (target: Queryable, userId: number, write: (db: Queryable) => Promise<T>): Promise<T> {
  const batcher = target instanceof DirectTransaction || target.isTransaction ? undefined : batches.get(target)
  return batcher === undefined ? write(target) : batcher.run(userId, write)
}

/** What the batches of users' writes on `db` have done so far (waited writes only); undefined where not used. */
export function userBatchStats (db: Kysely<Database>): GroupCommitStats | undefined {
  const batcher = batches.get(db)
  return batcher === undefined ? undefined : { ...batcher.stats, recentBatches: [...batcher.stats.recentBatches], queued: batcher.queued }
}
