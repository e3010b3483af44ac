import type { FastifyRequest } from 'fastify'
import { Kysely } from 'kysely'
import { type ConnectOptions, parseDatabaseUrl } from '../db/connect.js'
import type { Database } from '../db/types.js'
import { InvalidOptionError } from '../schemas/errors.js'
import type { KeyRegistry } from '../schemas/key-registry.js'
import { compileRegistry, type CompiledRegistry, type UnknownKeys } from './key-registry.js'

/**
 * A request of the plugin's own routes, once authenticated: what the plugin knows of the caller
 * there. Host routes' requests do not have these fields.
 */
export interface PreferencesRequest extends FastifyRequest {
  /** The caller (`{ id, isAdmin }`), as the token (or the host's mapCaller) says. */
  readonly preferencesCaller: { id: number, isAdmin: boolean }
  /** The caller's verified token claims (or what the host's verify returned), e.g. a `groups` claim. */
  readonly preferencesClaims: Record<string, unknown>
}

/**
 * The groups of a user, lowest precedence first; each a scope name. `request` is the HTTP
 * request when the plugin asks (authenticated: the caller and their claims are on it),
 * undefined when host code asks through the store.
 */
export type GroupsOf = (userId: number, request?: PreferencesRequest) => readonly string[] | Promise<readonly string[]>

/** What a preference store is made of (the plugin takes the same options). */
export interface StoreOptions<R extends KeyRegistry = KeyRegistry> {
  /**
   * A DATABASE_URL-style string (SQLite path, `sqlite:<path>`, `:memory:`, `postgres://...`),
   * or a Kysely instance the host owns (then the host also closes it). Default: the SQLite
   * file data/preferences.sqlite.
   */
  database?: string | Kysely<Database>
  /** Pool size, statement timeout, busy timeout, for a database given as a string. */
  databaseOptions?: ConnectOptions
  /** Run pending migrations when the store opens (default true). */
  migrate?: boolean
  /** The key registry: a key or `prefix.*` pattern to { schema, default?, description?, writable? }. */
  keys?: R
  /** `allow` (default): a key without a definition holds any JSON; `reject`: writing one is a 400. */
  unknownKeys?: UnknownKeys
  /** A user's groups, for scope defaults and locks (default: none). */
  groupsOf?: GroupsOf
  /** Largest value, as bytes of the JSON text stored (the text sent, less whitespace; default 65536). */
  maxValueBytes?: number
  /** Most preferences one user may hold (default 1000). */
  maxPreferencesPerUser?: number
  /** The change log: how many revisions are kept per user (default 1000), and where they are heard. */
  changeLog?: {
    maxRevisions?: number
    /**
     * PostgreSQL: the connection on which this instance LISTENs for the revisions other
     * instances commit, for its event streams. Default true: on `database`, when that is a
     * postgres:// URL. A postgres:// URL: there (for a Kysely instance given as `database`; it
     * must reach the same schema). false: the streams hear of this process's writes only.
     */
    listen?: boolean | string
  }
}

export interface ResolvedStoreOptions {
  database: string | Kysely<Database>
  databaseOptions: ConnectOptions
  migrate: boolean
  registry: CompiledRegistry
  groupsOf: GroupsOf
  maxValueBytes: number
  maxPreferencesPerUser: number
  maxRevisions: number
  /** Where to LISTEN; true: wanted, but no URL is known (a Kysely instance was given); false: not. */
  listen: string | boolean
}

export function positiveInteger (name: string, value: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidOptionError(`${name} must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`)
  }
  return value
}

const noGroups: GroupsOf = () => []

export function resolveStoreOptions (options: StoreOptions): ResolvedStoreOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options must be an object')
  }
  const database = options.database ?? ''
  if (typeof database !== 'string' && !(database instanceof Kysely)) {
    throw new InvalidOptionError('database must be a connection string or a Kysely instance')
  }
  if (options.migrate !== undefined && typeof options.migrate !== 'boolean') {
    throw new InvalidOptionError('migrate must be a boolean')
  }
  if (options.groupsOf !== undefined && typeof options.groupsOf !== 'function') {
    throw new InvalidOptionError('groupsOf must be a function (userId, request?) => string[] (sync or async)')
  }
  return {
    database,
    databaseOptions: options.databaseOptions ?? {},
    migrate: options.migrate ?? true,
    registry: compileRegistry(options.keys, options.unknownKeys),
    groupsOf: options.groupsOf ?? noGroups,
    maxValueBytes: positiveInteger('maxValueBytes', options.maxValueBytes, 65_536, 16 * 1024 * 1024),
    maxPreferencesPerUser: positiveInteger('maxPreferencesPerUser', options.maxPreferencesPerUser, 1000),
    maxRevisions: positiveInteger('changeLog.maxRevisions', options.changeLog?.maxRevisions, 1000, 1_000_000),
    listen: resolveListen(database, options.changeLog?.listen)
  }
}

function resolveListen (database: string | Kysely<Database>, listen: unknown): string | boolean {
  const onPostgres = typeof database === 'string' && parseDatabaseUrl(database).dialect === 'postgres'
  if (listen === undefined || listen === true) return onPostgres ? database : typeof database !== 'string'
  if (listen === false) return false
  if (typeof listen !== 'string' || !/^postgres(ql)?:\/\//i.test(listen.trim())) {
    throw new InvalidOptionError('changeLog.listen must be a boolean or a postgres:// URL')
  }
  if (typeof database === 'string' && !onPostgres) throw new InvalidOptionError('changeLog.listen is for PostgreSQL; the database is SQLite')
  return listen
}
