import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import { InvalidOptionError } from '../schemas/errors.js'
import { executeDirectly } from './direct/compiled-statements.js'
import { inUtc, pgTypes } from './direct/pg-timestamps.js'
import { namedStatements } from './direct/postgres.js'
import { batchUserWrites } from './postgres-user-batches.js'
import { sqliteDirect, statementCache } from './direct/sqlite.js'
import { type GroupCommitOptions, resolveGroupCommitOptions, useGroupCommit } from './sqlite-group-commit.js'
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
  /**
   * SQLite: concurrent writes share one transaction and one fsync (db/sqlite-group-commit.ts).
   * PostgreSQL: the writes of one user that wait for that user's write in flight share one
   * (db/postgres-user-batches.ts); maxQueue bounds the writes waiting per user.
   * false: each write commits on its own.
   */
  groupCommit?: GroupCommitOptions | false
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

export interface OpenedDatabase {
  db: Kysely<Database>
  dialect: Dialect
  /** A description without credentials, for logs. */
  description: string
}

export function openDatabase (url: string | undefined, options: ConnectOptions = {}): OpenedDatabase {
  const target = parseDatabaseUrl(url)
  const groupCommit = resolveGroupCommitOptions(options.groupCommit)
  if (target.dialect === 'postgres') {
    const statementTimeout = options.statementTimeoutMs ?? 10_000
    const pool = new pg.Pool({
      connectionString: inUtc(target.connectionString),
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
    })
    const safe = new URL(target.connectionString)
    safe.password = ''
    const statements = namedStatements(pool)
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: statements.pool }) })
    executeDirectly(db, statements.execute, statements.transaction)
    if (groupCommit !== false) batchUserWrites(db, groupCommit)
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
  if (groupCommit !== false) useGroupCommit(db, sqlite, prepare, groupCommit)
  return {
    db,
    dialect: 'sqlite',
    description: memory ? 'sqlite :memory:' : `sqlite ${resolve(target.path)}`
  }
}
