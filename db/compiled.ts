import { strict as assert } from 'node:assert'
import type { Compilable, CompiledQuery, Kysely } from 'kysely'
import type { Database } from './types.js'

const MARK = '\u0000kysely-param:'

/**
 * Runs one compiled statement outside any transaction and gives its rows, or undefined when
 * it cannot run now (Kysely's own path then runs it).
 */
export type DirectExecutor = (sql: string, parameters: unknown[]) => unknown[] | Promise<unknown[]> | undefined

/** Runs one statement on the connection of an open transaction and gives its rows. */
export type TransactionStatement = (sql: string, parameters: unknown[]) => Promise<unknown[]>

/**
 * Opens a transaction on a connection of its own, runs `body` in it with a way to run
 * statements there, then commits (or rolls back when `body` throws) and gives the
 * connection back.
 */
export type TransactionRunner = <T>(body: (run: TransactionStatement) => Promise<T>) => Promise<T>

/** A transaction opened without Kysely (compiledTransaction): compiled queries run on it directly. */
export class DirectTransaction {
  constructor (readonly db: Kysely<Database>, readonly run: TransactionStatement) {}
}

/** Where compiled queries run: a Kysely instance, a Kysely transaction, or a DirectTransaction. */
export type Queryable = Kysely<Database> | DirectTransaction

/** The Kysely instance behind `target` (for its dialect). */
export const kyselyOf = (target: Queryable): Kysely<Database> =>
  target instanceof DirectTransaction ? target.db : target

interface DirectPaths {
  execute: DirectExecutor
  transaction?: TransactionRunner
}

const directPaths = new WeakMap<Kysely<Database>, DirectPaths>()

/**
 * Lets compiled queries on `db` itself (not on its transactions, which are other objects)
 * skip Kysely's connection handling (a mutex or a pool checkout per query, and the objects
 * around them) and go straight to the driver. The executor must never put a statement inside
 * a transaction that another request holds open. With `transaction`, compiledTransaction()
 * opens its transactions that way too.
 */
export function executeDirectly (db: Kysely<Database>, execute: DirectExecutor, transaction?: TransactionRunner): void {
  directPaths.set(db, { execute, transaction })
}

/**
 * Runs `body` in one transaction. `body` may only run compiled queries on the Queryable it
 * gets: where `db` has a direct transaction runner (PostgreSQL opened by openDatabase), the
 * transaction is opened without Kysely, which otherwise builds a new Kysely instance, executor
 * and connection provider for every transaction.
 */
export async function compiledTransaction<T> (db: Kysely<Database>, body: (trx: Queryable) => Promise<T>): Promise<T> {
  const runner = directPaths.get(db)?.transaction
  if (runner === undefined) return db.transaction().execute(body)
  return runner((run) => body(new DirectTransaction(db, run)))
}

/**
 * A query built and compiled once per dialect, then run with new values: Kysely would
 * otherwise build and compile the same query object tree on every request. Values stand in
 * as named markers while compiling; every marker must end up as a bound parameter.
 */
export function compiledQuery<P extends string, R> (
  build: (db: Kysely<Database>, param: (name: P) => never) => Compilable<R>
): (target: Queryable, values: Record<P, unknown>) => Promise<R[]> {
  const byAdapter = new Map<unknown, { compiled: CompiledQuery<R>, slots: P[] }>()
  return async (target, values) => {
    const db = kyselyOf(target)
    const adapter = db.getExecutor().adapter.constructor
    let entry = byAdapter.get(adapter)
    if (entry === undefined) {
      const compiled = build(db, (name) => `${MARK}${name}` as never).compile()
      const slots = compiled.parameters.map((value) => {
        assert(typeof value === 'string' && value.startsWith(MARK), `a literal value in a compiled query: ${compiled.sql}`)
        return value.slice(MARK.length) as P
      })
      entry = { compiled, slots }
      byAdapter.set(adapter, entry)
    }
    const { compiled, slots } = entry
    const parameters = slots.map((slot) => values[slot])
    if (target instanceof DirectTransaction) return await target.run(compiled.sql, parameters) as R[]
    const direct = directPaths.get(db)?.execute(compiled.sql, parameters)
    if (direct !== undefined) return await direct as R[]
    const result = await db.executeQuery<R>({ ...compiled, parameters })
    return result.rows
  }
}
