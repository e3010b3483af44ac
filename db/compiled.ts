import { strict as assert } from 'node:assert'
import type { Compilable, CompiledQuery, Kysely } from 'kysely'
import type { Database } from './types.js'

const MARK = '\u0000kysely-param:'

/**
 * Runs one compiled statement outside any transaction and gives its rows, or undefined when
 * it cannot run now (Kysely's own path then runs it).
 */
export type DirectExecutor = (sql: string, parameters: unknown[]) => unknown[] | Promise<unknown[]> | undefined

const directExecutors = new WeakMap<Kysely<Database>, DirectExecutor>()

/**
 * Lets compiled queries on `db` itself (not on its transactions, which are other objects)
 * skip Kysely's connection handling (a mutex or a pool checkout per query, and the objects
 * around them) and go straight to the driver. The executor must never put a statement inside
 * a transaction that another request holds open.
 */
export function executeDirectly (db: Kysely<Database>, executor: DirectExecutor): void {
  directExecutors.set(db, executor)
}

/**
 * A query built and compiled once per dialect, then run with new values: Kysely would
 * otherwise build and compile the same query object tree on every request. Values stand in
 * as named markers while compiling; every marker must end up as a bound parameter.
 */
export function compiledQuery<P extends string, R> (
  build: (db: Kysely<Database>, param: (name: P) => never) => Compilable<R>
): (db: Kysely<Database>, values: Record<P, unknown>) => Promise<R[]> {
  const byAdapter = new Map<unknown, { compiled: CompiledQuery<R>, slots: P[] }>()
  return async (db, values) => {
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
    const direct = directExecutors.get(db)?.(compiled.sql, parameters)
    if (direct !== undefined) return await direct as R[]
    const result = await db.executeQuery<R>({ ...compiled, parameters })
    return result.rows
  }
}
