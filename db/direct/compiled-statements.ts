import { strict as assert } from 'node:assert'
import { type Compilable, type CompiledQuery, type Kysely, PostgresAdapter, type RawBuilder } from 'kysely'
import type { Database } from '../types.js'

const MARK = '\u0000kysely-param:'

/** What a statement gave: its rows, and how many rows it changed (null when not known). */
export interface StatementResult {
  rows: unknown[]
  rowCount: number | null
}

/**
 * Runs one compiled statement outside any transaction, or gives undefined when it cannot run
 * now (Kysely's own path then runs it).
 */
export type DirectExecutor = (sql: string, parameters: unknown[]) => StatementResult | Promise<StatementResult> | undefined

/** Runs one statement on the connection of an open transaction. */
export type TransactionStatement = (sql: string, parameters: unknown[]) => Promise<StatementResult>

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
 * On PostgreSQL, binds each named value once: the statement text refers to one numbered
 * parameter wherever the value is used. The server converts each parameter it is sent (a JSON
 * one is parsed), so a policy used in four places was parsed four times per write.
 */
function bindOnce<P extends string> (sql: string, slots: P[]): { sql: string, slots: P[] } {
  const unique: P[] = []
  let seen = 0
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    // Kysely numbers its placeholders in order; anything else (a "$" in a literal) is not one.
    assert(Number(n) === ++seen, `unexpected $${n} in a compiled query: ${sql}`)
    const slot = slots[seen - 1]
    const index = unique.includes(slot) ? unique.indexOf(slot) : unique.push(slot) - 1
    return `$${index + 1}`
  })
  assert(seen === slots.length, `placeholders and parameters differ in a compiled query: ${sql}`)
  return { sql: text, slots: unique }
}

/**
 * A statement built and compiled once per dialect, then run with new values: Kysely would
 * otherwise build and compile the same query object tree on every request. Values stand in
 * as named markers while compiling; every marker must end up as a bound parameter. `pick`
 * takes what the caller wants from the result.
 */
function compiled<P extends string, T> (
  build: (db: Kysely<Database>, param: (name: P) => never) => Compilable<unknown>,
  pick: (result: StatementResult) => T
): (target: Queryable, values: Record<P, unknown>) => Promise<T> {
  const byAdapter = new Map<unknown, { compiled: CompiledQuery<unknown>, slots: P[] }>()
  return async (target, values) => {
    const db = kyselyOf(target)
    const adapter = db.getExecutor().adapter.constructor
    let entry = byAdapter.get(adapter)
    if (entry === undefined) {
      const compiled = build(db, (name) => `${MARK}${name}` as never).compile()
      const marked = compiled.parameters.map((value) => {
        assert(typeof value === 'string' && value.startsWith(MARK), `a literal value in a compiled query: ${compiled.sql}`)
        return value.slice(MARK.length) as P
      })
      if (db.getExecutor().adapter instanceof PostgresAdapter) {
        const { sql, slots } = bindOnce(compiled.sql, marked)
        entry = { compiled: { ...compiled, sql }, slots }
      } else {
        entry = { compiled, slots: marked }
      }
      byAdapter.set(adapter, entry)
    }
    const { compiled, slots } = entry
    const parameters = slots.map((slot) => values[slot])
    if (target instanceof DirectTransaction) return pick(await target.run(compiled.sql, parameters))
    const direct = directPaths.get(db)?.execute(compiled.sql, parameters)
    if (direct !== undefined) return pick(await direct)
    const { rows, numAffectedRows } = await db.executeQuery({ ...compiled, parameters })
    return pick({ rows, rowCount: numAffectedRows === undefined ? null : Number(numAffectedRows) })
  }
}

/** A compiled query (see compiled()) that gives its rows. */
export const compiledQuery = <P extends string, R>(
  build: (db: Kysely<Database>, param: (name: P) => never) => Compilable<R>
): (target: Queryable, values: Record<P, unknown>) => Promise<R[]> => compiled(build, (result) => result.rows as R[])

/**
 * A compiled statement (see compiled()) that gives how many rows it changed: for a write
 * that needs no rows back, which spares the database and the driver a RETURNING.
 */
export const compiledCommand = <P extends string>(
  build: (db: Kysely<Database>, param: (name: P) => never) => Compilable<unknown>
): (target: Queryable, values: Record<P, unknown>) => Promise<number> => compiled(build, (result) => result.rowCount ?? 0)

/**
 * A compiled query (see compiled()) written as one `sql` template: `p(name)` stands for a
 * value, `postgres` tells which dialect it is compiled for.
 */
export const compiledSql = <R>(build: (p: (name: string) => never, postgres: boolean) => RawBuilder<R>) =>
  compiledQuery<string, R>((db, p) => ({
    compile: () => build(p, db.getExecutor().adapter instanceof PostgresAdapter).compile(db)
  }) as Compilable<R>)
