import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import SQLite from 'better-sqlite3'
import {
  Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient, SqliteDialect
} from 'kysely'
import pg from 'pg'
import { InvalidOptionError } from '../errors.js'
import { type DirectExecutor, executeDirectly, type TransactionRunner } from './compiled.js'
import { pgTypes, useUtc } from './pg-types.js'
import type { Database, Dialect } from './types.js'

export const DEFAULT_SQLITE_PATH = 'data/preferences.sqlite'

export type DatabaseTarget =
  | { dialect: 'sqlite', path: string }
  | { dialect: 'postgres', connectionString: string }

export interface ConnectOptions {
  /** PostgreSQL pool size (default 10). */
  poolSize?: number
  /** PostgreSQL statement_timeout in milliseconds (default 10000). */
  statementTimeoutMs?: number
  /** PostgreSQL: how long opening a connection may take, in milliseconds (default 5000). */
  connectionTimeoutMs?: number
  /**
   * PostgreSQL: how long the client waits for a query's answer, in milliseconds (default
   * statementTimeoutMs + 2000). statement_timeout is enforced by the server; this bounds a
   * request when the server cannot be heard at all (a network partition).
   */
  queryTimeoutMs?: number
  /** SQLite busy timeout in milliseconds (default 5000). */
  busyTimeoutMs?: number
}

/**
 * Reads a DATABASE_URL-style string: unset or empty means the default SQLite file;
 * `:memory:`, a path or `sqlite:<path>` mean SQLite; `postgres://`/`postgresql://` PostgreSQL.
 */
export function parseDatabaseUrl (url: string | undefined): DatabaseTarget {
  const value = (url ?? '').trim()
  if (value === '') return { dialect: 'sqlite', path: DEFAULT_SQLITE_PATH }
  if (/^postgres(ql)?:\/\//i.test(value)) return { dialect: 'postgres', connectionString: value }
  if (/^sqlite:/i.test(value)) {
    const path = value.replace(/^sqlite:(\/\/)?/i, '')
    if (path === '') throw new InvalidOptionError('database: "sqlite:" needs a path, e.g. sqlite:data/prefs.sqlite')
    return { dialect: 'sqlite', path }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new InvalidOptionError(`database: unsupported URL scheme in "${value.split('://')[0]}://"; use a SQLite path, sqlite:<path>, :memory: or postgres://`)
  }
  return { dialect: 'sqlite', path: value }
}

const STATEMENT_CACHE_SIZE = 256

/**
 * Kysely's SQLite driver prepares every statement on every query; better-sqlite3 statements
 * are reusable, so keep the most recent ones by SQL text. Safe because better-sqlite3 runs
 * one statement at a time to completion.
 */
function statementCache (sqlite: SQLite.Database): (text: string) => SQLite.Statement {
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
function sqliteDirect (sqlite: SQLite.Database, prepare: (text: string) => SQLite.Statement): DirectExecutor {
  return (text, values) => {
    if (sqlite.inTransaction) return undefined
    const statement = prepare(text)
    if (statement.reader) return { rows: statement.all(values), rowCount: null }
    return { rows: [], rowCount: statement.run(values).changes }
  }
}

const NAMED_STATEMENTS = 256

/**
 * Kysely sends every query unnamed, so PostgreSQL parses and plans it each time. Giving each
 * distinct SQL text a name makes pg prepare it once per connection and then only bind and
 * execute. The names are bounded: past that many distinct texts, queries go unnamed.
 * Statements without parameters (BEGIN, COMMIT) stay unnamed: pg sends them in the simple
 * protocol, one message instead of five.
 */
function namedStatements (pool: pg.Pool): { pool: PostgresPool, execute: DirectExecutor, transaction: TransactionRunner } {
  const names = new Map<string, string>()
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text)
    if (name === undefined && names.size < NAMED_STATEMENTS) {
      name = `user_preference_${names.size}`
      names.set(text, name)
    }
    return name
  }
  // Not async: the driver's promise is handed on as it is.
  const query = (client: pg.Pool | pg.PoolClient, text: string, values: unknown[]): Promise<pg.QueryResult> => {
    if (values.length === 0) return client.query(text)
    const name = nameOf(text)
    return client.query(name === undefined ? { text, values } : { name, text, values })
  }
  // One wrapper per pg client, so that Kysely finds its connection object for it again.
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  return {
    pool: {
      connect: async () => {
        const client = await pool.connect()
        let wrapper = wrappers.get(client)
        if (wrapper === undefined) {
          wrapper = {
            query: (async (text: string, values: unknown[]) => query(client, text, values)) as unknown as PostgresPoolClient['query'],
            release: () => { client.release() }
          }
          wrappers.set(client, wrapper)
        }
        return wrapper
      },
      end: async () => { await pool.end() }
    },
    execute: (text, values) => query(pool, text, values),
    transaction: async (body) => {
      const client = await pool.connect()
      // Set when a statement failed without an answer from the server (a query timeout, a lost
      // connection): the connection's state is unknown, so it is closed, never rolled back on
      // (a ROLLBACK would only wait for the same timeout again) and never reused.
      let lost: Error | undefined
      const run = async (text: string, values: unknown[]): Promise<pg.QueryResult> => {
        try {
          return await query(client, text, values)
        } catch (error) {
          if (!(error instanceof pg.DatabaseError)) lost = error as Error
          throw error
        }
      }
      try {
        await run('BEGIN', [])
        const result = await body(run)
        await run('COMMIT', [])
        return result
      } catch (error) {
        // After a failed COMMIT the transaction is already over: this ROLLBACK only warns.
        if (lost === undefined) await client.query('ROLLBACK').catch((rollbackError: Error) => { lost = rollbackError })
        throw error
      } finally {
        client.release(lost)
      }
    }
  }
}

export interface OpenedDatabase {
  db: Kysely<Database>
  dialect: Dialect
  /** A description without credentials, for logs. */
  description: string
}

export function openDatabase (url: string | undefined, options: ConnectOptions = {}): OpenedDatabase {
  const target = parseDatabaseUrl(url)
  if (target.dialect === 'postgres') {
    const statementTimeout = options.statementTimeoutMs ?? 10_000
    const pool = new pg.Pool({
      connectionString: target.connectionString,
      max: options.poolSize ?? 10,
      statement_timeout: statementTimeout,
      query_timeout: options.queryTimeoutMs ?? statementTimeout + 2_000,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      types: pgTypes
    })
    // An idle client losing its connection emits on the pool; without a listener that
    // would crash the process. The next query reconnects.
    pool.on('error', () => {})
    // A client losing its connection while checked out emits 'error' on itself, where
    // pg-pool does not listen: unheard, that crashed the process. The query in progress
    // fails on its own, and pg-pool drops the client when it is released.
    pool.on('connect', (client) => {
      client.on('error', () => {})
      useUtc(client)
    })
    const safe = new URL(target.connectionString)
    safe.password = ''
    const statements = namedStatements(pool)
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: statements.pool }) })
    executeDirectly(db, statements.execute, statements.transaction)
    return {
      db,
      dialect: 'postgres',
      description: `postgres ${safe.host}${safe.pathname}`
    }
  }

  const memory = target.path === ':memory:'
  if (!memory) mkdirSync(dirname(resolve(target.path)), { recursive: true })
  const sqlite = new SQLite(target.path)
  sqlite.pragma('journal_mode = WAL')
  // FULL: a transaction acknowledged to a client survives a crash or power loss.
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`)
  const prepare = statementCache(sqlite)
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: { prepare, close: () => { sqlite.close() } } })
  })
  executeDirectly(db, sqliteDirect(sqlite, prepare))
  return {
    db,
    dialect: 'sqlite',
    description: memory ? 'sqlite :memory:' : `sqlite ${resolve(target.path)}`
  }
}
