import type { Kysely } from 'kysely'
import { InvalidOptionError, WriteQueueFullError } from '../schemas/errors.js'
import {
  compiledTransaction, type DirectExecutor, DirectTransaction, executeDirectly, type Queryable
} from './direct/compiled-statements.js'
import type { Database } from './types.js'

// Group commit on SQLite. Every write transaction of the repositories comes here (through
// writeTransaction) and waits in a queue. A batch takes the queue's head and runs it in one
// transaction: BEGIN IMMEDIATE, then each write inside a SAVEPOINT of its own (one that throws
// is rolled back to it and gets its own error; the others go on), then one COMMIT, so one
// fsync for the batch. Each write's promise settles only after that COMMIT has returned.
//
// Nothing waits on purpose. A batch starts on setImmediate: after the I/O phase in which its
// first write arrived, so every request parsed in that phase joins it. better-sqlite3 blocks
// the event loop for the whole batch (its COMMIT included), and the requests that arrive
// meanwhile are read in the next I/O phase and form the next batch.

export interface GroupCommitOptions {
  /** Most writes in one transaction (default 128). */
  maxBatch?: number
  /** Most writes waiting for a batch; past it a write is refused with a 503 (default 1024). */
  maxQueue?: number
}

export interface GroupCommitStats {
  /** Batches committed (or failed) so far. */
  batches: number
  /** Writes run in them. */
  writes: number
  /** The largest batch so far. */
  largestBatch: number
  /** The sizes of the most recent batches, oldest first (at most 64). */
  recentBatches: number[]
  /** Writes refused because the queue was full. */
  refused: number
  /** Writes waiting now. */
  queued: number
}

/** Adds a batch of `size` writes to `stats` (shared with PostgreSQL's group commit per user). */
export function countBatch (stats: Omit<GroupCommitStats, 'queued'>, size: number): void {
  stats.batches++
  stats.writes += size
  stats.largestBatch = Math.max(stats.largestBatch, size)
  stats.recentBatches.push(size)
  if (stats.recentBatches.length > RECENT) stats.recentBatches.shift()
}

const DEFAULT_MAX_BATCH = 128
const DEFAULT_MAX_QUEUE = 1024
const RECENT = 64

function limit (name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidOptionError(`databaseOptions.groupCommit.${name} must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`)
  }
  return value
}

/** Checks the options (false: every write commits on its own, as without group commit). */
export function resolveGroupCommitOptions (value: unknown): Required<GroupCommitOptions> | false {
  if (value === false) return false
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new InvalidOptionError('databaseOptions.groupCommit must be false or { maxBatch, maxQueue }')
  }
  const options = (value ?? {}) as GroupCommitOptions
  return {
    maxBatch: limit('maxBatch', options.maxBatch, DEFAULT_MAX_BATCH, 10_000),
    maxQueue: limit('maxQueue', options.maxQueue, DEFAULT_MAX_QUEUE, 1_000_000)
  }
}

type Body<T> = (trx: Kysely<Database>) => Promise<T>

// What group commit uses of better-sqlite3, said here so that the package's declarations do
// not need better-sqlite3's types (its users on PostgreSQL have no reason to install them).
interface SqliteStatement {
  readonly reader: boolean
  run: (...parameters: unknown[]) => { changes: number }
  all: (...parameters: unknown[]) => unknown[]
}
interface SqliteConnection {
  readonly inTransaction: boolean
}

/** One statement run straight on the connection, inside the batch's transaction. */
type BatchStatement = (sql: string, parameters: unknown[]) => Promise<{ rows: unknown[], rowCount: number | null }>

interface Job {
  body: Body<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/** How a job of a batch ended, kept until the COMMIT says whether it holds. */
type Outcome = { job: Job, ok: true, value: unknown } | { job: Job, ok: false, error: unknown }

class GroupCommit {
  private queue: Job[] = []
  private scheduled = false
  private running = false
  readonly stats: Omit<GroupCommitStats, 'queued'> = { batches: 0, writes: 0, largestBatch: 0, recentBatches: [], refused: 0 }
  private readonly sql: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', () => void>

  /**
   * The compiled statements of a batch's writes run on better-sqlite3 directly (the batch
   * holds the connection), without Kysely's executor around each one: on the batch's
   * connection (direct) and on a DirectTransaction (statement, for compiledWriteTransaction).
   */
  private readonly direct: DirectExecutor
  readonly statement: BatchStatement

  constructor (
    private readonly db: Kysely<Database>,
    private readonly sqlite: SqliteConnection,
    prepare: (text: string) => SqliteStatement,
    private readonly options: Required<GroupCommitOptions>
  ) {
    const direct = (text: string, parameters: unknown[]) => {
      const prepared = prepare(text)
      if (prepared.reader) return { rows: prepared.all(parameters), rowCount: null }
      return { rows: [], rowCount: prepared.run(parameters).changes }
    }
    this.direct = direct
    this.statement = async (text, parameters) => direct(text, parameters)
    const statement = (text: string) => {
      const prepared = prepare(text)
      return () => { prepared.run() }
    }
    this.sql = {
      begin: statement('BEGIN IMMEDIATE'),
      commit: statement('COMMIT'),
      rollback: statement('ROLLBACK'),
      savepoint: statement('SAVEPOINT write_job'),
      release: statement('RELEASE write_job'),
      rollbackTo: statement('ROLLBACK TO write_job')
    }
  }

  get queued (): number {
    return this.queue.length
  }

  async run<T> (body: Body<T>): Promise<T> {
    if (this.queue.length >= this.options.maxQueue) {
      this.stats.refused++
      throw new WriteQueueFullError(this.options.maxQueue)
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ body, resolve: resolve as (value: unknown) => void, reject })
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.scheduled || this.running || this.queue.length === 0) return
    this.scheduled = true
    setImmediate(() => { this.flush().catch(() => {}) })
  }

  private async flush (): Promise<void> {
    this.scheduled = false
    this.running = true
    const jobs = this.queue.splice(0, this.options.maxBatch)
    try {
      // Holding Kysely's one connection keeps every other use of it (a read through Kysely,
      // a migration) out until the batch is over; direct reads see a transaction open and
      // wait behind the same mutex.
      await this.db.connection().execute(async (connection) => {
        executeDirectly(connection, this.direct)
        try {
          await this.batch(connection, jobs)
        } catch (error) {
          // A statement of the batch's own failed (a SAVEPOINT, a ROLLBACK TO): end the
          // transaction before the connection is handed on, and fail every write not yet
          // answered (a settled promise ignores this).
          if (this.sqlite.inTransaction) {
            try { this.sql.rollback() } catch {}
          }
          for (const job of jobs) job.reject(error)
        }
      })
    } catch (error) {
      // The connection could not be had (the database is closed): nothing ran.
      for (const job of jobs) job.reject(error)
    } finally {
      this.running = false
      this.schedule()
    }
  }

  private async batch (connection: Kysely<Database>, jobs: Job[]): Promise<void> {
    countBatch(this.stats, jobs.length)
    try {
      this.sql.begin()
    } catch (error) {
      for (const job of jobs) job.reject(error)
      return
    }
    const outcomes: Outcome[] = []
    for (const [i, job] of jobs.entries()) {
      this.sql.savepoint()
      try {
        const value = await job.body(connection)
        this.sql.release()
        outcomes.push({ job, ok: true, value })
      } catch (error) {
        if (!this.sqlite.inTransaction) {
          // SQLite ended the whole transaction itself (a full disk, an I/O error): what ran
          // before is gone too. The writes not yet run go back to the head of the queue.
          job.reject(error)
          for (const done of outcomes) done.job.reject(error)
          this.queue.unshift(...jobs.slice(i + 1))
          return
        }
        this.sql.rollbackTo()
        this.sql.release()
        outcomes.push({ job, ok: false, error })
      }
    }
    try {
      this.sql.commit()
    } catch (error) {
      // Nothing of the batch holds: no write is acknowledged, not even a refusal that an
      // earlier write of the batch may have caused.
      if (this.sqlite.inTransaction) {
        try { this.sql.rollback() } catch {}
      }
      for (const { job } of outcomes) job.reject(error)
      return
    }
    for (const outcome of outcomes) {
      if (outcome.ok) outcome.job.resolve(outcome.value)
      else outcome.job.reject(outcome.error)
    }
  }
}

const groups = new WeakMap<Kysely<Database>, GroupCommit>()

/** Makes the write transactions on `db` (a Kysely over `sqlite`, its only connection) share commits. */
export function useGroupCommit (
  db: Kysely<Database>, sqlite: SqliteConnection, prepare: (text: string) => SqliteStatement, options: Required<GroupCommitOptions>
): void {
  groups.set(db, new GroupCommit(db, sqlite, prepare, options))
}

/** What group commit on `db` has done so far; undefined where it is not used. */
export function groupCommitStats (db: Kysely<Database>): GroupCommitStats | undefined {
  const group = groups.get(db)
  return group === undefined ? undefined : { ...group.stats, recentBatches: [...group.stats.recentBatches], queued: group.queued }
}

/**
 * Runs `body` as one write transaction: a savepoint in a shared transaction where `db` uses
 * group commit, a transaction of its own elsewhere (PostgreSQL, a Kysely the host brought).
 * `body` must use only the `trx` it gets, never `db`: on SQLite's one connection a statement
 * on `db` would wait for the very transaction it is part of.
 */
export async function writeTransaction<T> (db: Kysely<Database>, body: Body<T>): Promise<T> {
  const group = groups.get(db)
  if (group === undefined) return db.transaction().execute(body)
  return group.run(body)
}

/**
 * Runs a write of one statement: in a batch where `db` uses group commit, else on `db` as it
 * is (autocommit, no transaction around it).
 */
export async function writeStatement<T> (db: Kysely<Database>, body: Body<T>): Promise<T> {
  const group = groups.get(db)
  return group === undefined ? body(db) : group.run(body)
}

/**
 * writeTransaction for a `body` that runs only compiled queries (compiledTransaction): in a
 * batch they run on the connection directly.
 */
export async function compiledWriteTransaction<T> (db: Kysely<Database>, body: (trx: Queryable) => Promise<T>): Promise<T> {
  const group = groups.get(db)
  if (group === undefined) return compiledTransaction(db, body)
  return group.run(async () => body(new DirectTransaction(db, group.statement)))
}
