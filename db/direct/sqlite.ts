import type SQLite from 'better-sqlite3'
import type { DirectExecutor } from './compiled-statements.js'

const STATEMENT_CACHE_SIZE = 256

/**
 * Kysely's SQLite driver prepares every statement on every query; better-sqlite3 statements
 * are reusable, so keep the most recent ones by SQL text. Safe because better-sqlite3 runs
 * one statement at a time to completion.
 */
export function statementCache (sqlite: SQLite.Database): (text: string) => SQLite.Statement {
  const statements = new Map<string, SQLite.Statement>()
  return (text) => {
    let statement = statements.get(text)
    if (statement === undefined) {
      statement = sqlite.prepare(text)
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string)
      statements.set(text, statement)
    }
    return statement
  }
}

/**
 * Single statements on SQLite's one connection, run at once when no transaction is open on
 * it. better-sqlite3 runs a statement to completion before anything else can happen, so it
 * cannot interleave with a transaction that begins later; while one is open (another request
 * is between its awaits), the statement waits its turn behind Kysely's mutex instead.
 */
export function sqliteDirect (sqlite: SQLite.Database, prepare: (text: string) => SQLite.Statement): DirectExecutor {
  return (text, values) => {
    if (sqlite.inTransaction) return undefined
    const statement = prepare(text)
    if (statement.reader) return { rows: statement.all(values), rowCount: null }
    return { rows: [], rowCount: statement.run(values).changes }
  }
}
