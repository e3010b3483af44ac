import swagger from '@fastify/swagger'
import { createSigner, type SignerOptions } from 'fast-jwt'
import Fastify, {
  type FastifyInstance, type FastifyServerOptions, type InjectOptions, type LightMyRequestResponse
} from 'fastify'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import type { Kysely } from 'kysely'
import preferences, { preferencesOpenapi } from '../index.js'
import { type ConnectOptions, openDatabase } from '../db/connect.js'
import type { Database, UserPreferenceRow } from '../db/types.js'
import type { PreferencesPluginOptions } from '../options/plugin-options.js'
import { attachContract } from './contract.js'

export const SECRET = 'test-secret-that-is-long-enough-for-hs256'
export const PREFIX = '/api/v2'

export interface TokenOptions {
  sub?: unknown
  roles?: unknown
  role?: unknown
  secret?: string
  /** Extra fast-jwt signer options (expiresIn, notBefore, iss, aud, algorithm, key...). */
  signer?: Partial<SignerOptions>
  claims?: Record<string, unknown>
}

/** An HS256 token for user `sub` (default 1) signed with the test secret. */
export function token (options: TokenOptions | number = {}): string {
  const o: TokenOptions = typeof options === 'number' ? { sub: options } : options
  const payload: Record<string, unknown> = { ...o.claims }
  if (o.sub !== undefined) payload.sub = o.sub
  else if (!('sub' in o)) payload.sub = 1
  if (o.roles !== undefined) payload.roles = o.roles
  if (o.role !== undefined) payload.role = o.role
  const sign = createSigner({ key: o.secret ?? SECRET, expiresIn: 3_600_000, ...o.signer } as SignerOptions)
  return sign(payload)
}

export const adminToken = (sub = 999): string => token({ sub, roles: ['admin'] })

export const bearer = (t: string) => ({ authorization: `Bearer ${t}` })

export interface BuildOptions {
  plugin?: Partial<PreferencesPluginOptions>
  /** Options of the host Fastify instance (e.g. routerOptions.maxParamLength). */
  server?: FastifyServerOptions
  /**
   * Which responses the OpenAPI contract checks: 'all' (default) fails a request to a path or
   * method the document does not have; 'documented' checks only the responses of documented
   * operations (for fuzzing, which sends undocumented requests on purpose).
   */
  contract?: 'all' | 'documented'
  /** Options of the database the helper opens (e.g. SQLite's group commit limits). */
  databaseOptions?: ConnectOptions
}

export interface TestApp {
  app: FastifyInstance
  /** The same database the plugin uses, for looking behind the API. */
  db: Kysely<Database>
  /** Every stored row, ordered by id, the same on every backend: for "the database afterwards" assertions. */
  rows: () => Promise<StoredRow[]>
  /** Every scope default, ordered by scope and key: `scope/key` to value text, with `!` after a locked one's. */
  defaults: () => Promise<Record<string, string>>
}

/** A stored row as SQLite gives it: numbers, the value's JSON text, ISO timestamps. */
export interface StoredRow {
  id: number
  user_id: number
  key: string
  value: string
  created_at: string
  last_updated_at: string
}

const iso = (v: string | Date): string => typeof v === 'string' ? v : v.toISOString()

function normalizeRow (row: UserPreferenceRow): StoredRow {
  return {
    id: Number(row.id),
    user_id: Number(row.user_id),
    key: row.key,
    value: row.value,
    created_at: iso(row.created_at),
    last_updated_at: iso(row.last_updated_at)
  }
}

/** Which database the suite runs on: set by scripts/test.sh, SQLite by default. */
export const BACKEND: 'sqlite' | 'postgres' =
  process.env.PREFERENCES_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite'
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * A database of its own for one test, removed when the test ends: a new SQLite file in a
 * temporary directory, or a new PostgreSQL schema (reached through search_path), so that
 * test files can run in parallel on one server.
 */
export async function freshDatabaseUrl (t: Test): Promise<string> {
  if (BACKEND === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'prefs-test-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    return join(dir, 'preferences.sqlite')
  }
  const schema = `test_${process.pid}_${randomBytes(6).toString('hex')}`
  await withPgClient(async (c) => { await c.query(`create schema ${schema}`) })
  t.after(async () => withPgClient(async (c) => { await c.query(`drop schema ${schema} cascade`) }))
  const url = new URL(PG_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return url.toString()
}

async function withPgClient (fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL })
  await c.connect()
  try {
    await fn(c)
  } finally {
    await c.end()
  }
}

/**
 * A host app with the plugin under /api/v2 on a fresh database of the suite's backend;
 * app and database are closed when the test ends. The host documents the plugin with
 * @fastify/swagger, and every response its `inject` returns is checked against that
 * OpenAPI document (test/contract.ts): a violation fails the test.
 */
export async function build (t: Test, options: BuildOptions = {}): Promise<TestApp> {
  const { db } = openDatabase(await freshDatabaseUrl(t), options.databaseOptions)
  const app = Fastify({ logger: false, ...options.server })
  await app.register(swagger, { openapi: { info: { title: 'test host', version: '0.0.0' }, ...preferencesOpenapi } })
  await app.register(preferences, {
    prefix: PREFIX,
    auth: { secret: SECRET },
    database: db,
    ...options.plugin
  })
  t.after(async () => {
    await app.close()
    await db.destroy()
  })
  await app.ready()
  attachContract(app, (problem, response) => {
    if (options.contract === 'documented' && problem.includes(': no operation for ')) return
    t.fail(`contract: ${problem}`, { body: response.payload.slice(0, 500) })
  })
  return {
    app,
    db,
    rows: async () => (await db.selectFrom('user_preference').selectAll().orderBy('id').execute()).map(normalizeRow),
    defaults: async () => Object.fromEntries((await db.selectFrom('preference_default').selectAll().orderBy('scope').orderBy('key').execute())
      .map((d) => [`${d.scope}/${d.key}`, `${d.value}${Number(d.locked) === 1 ? '!' : ''}`]))
  }
}

export interface Client {
  request: (method: InjectOptions['method'], path: string, body?: unknown, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
  create: (key: string, value: unknown, userId?: number | string) => Promise<LightMyRequestResponse>
}

/** Requests as one caller: paths are relative to /api/v2, bodies are sent as JSON. */
export function client (app: FastifyInstance, tokenValue: string): Client {
  const request: Client['request'] = async (method, path, body, headers = {}) => app.inject({
    method,
    url: `${PREFIX}${path}`,
    headers: {
      ...bearer(tokenValue),
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...headers
    },
    ...(body !== undefined && { payload: typeof body === 'string' ? body : JSON.stringify(body) })
  })
  return {
    request,
    create: async (key, value, userId = 'me') => request('POST', `/user/${userId}/preference/`, { key, value })
  }
}

/** Polls `check` until it is true; fails with `what` after 10 s. */
export async function until (check: () => boolean, what: string): Promise<void> {
  for (const start = Date.now(); !check();) {
    if (Date.now() - start > 10_000) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
