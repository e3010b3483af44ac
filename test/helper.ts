import { createSigner, type SignerOptions } from 'fast-jwt'
import Fastify, {
  type FastifyInstance, type FastifyServerOptions, type InjectOptions, type LightMyRequestResponse
} from 'fastify'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import type { Kysely } from 'kysely'
import preferences from '../index.js'
import { openDatabase } from '../db/connect.js'
import type { Database, UserPreferenceRow } from '../db/types.js'
import type { PreferencesPluginOptions } from '../plugins/options.js'

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
}

export interface TestApp {
  app: FastifyInstance
  /** The same database the plugin uses, for looking behind the API. */
  db: Kysely<Database>
  /** Every stored row, ordered by id: for "the database afterwards" assertions. */
  rows: () => Promise<UserPreferenceRow[]>
}

/**
 * A fresh, empty database for one test: an SQLite file in the test's own directory, or, when
 * TEST_DATABASE_URL is a postgres:// URL, a new PostgreSQL database dropped afterwards.
 */
async function openTestDatabase (t: Test): Promise<{ db: Kysely<Database>, drop: () => Promise<void> }> {
  const url = process.env.TEST_DATABASE_URL ?? ''
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    return { db: openDatabase(join(t.testdir({}), 'preferences.sqlite')).db, drop: async () => {} }
  }
  const name = `preferences_test_${process.pid}_${randomBytes(6).toString('hex')}`
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query(statement)
    } finally {
      await client.end()
    }
  }
  await admin(`create database ${name}`)
  const target = new URL(url)
  target.pathname = `/${name}`
  return { db: openDatabase(target.toString()).db, drop: () => admin(`drop database ${name} with (force)`) }
}

/**
 * A host app with the plugin under /api/v2 on a fresh database (see openTestDatabase); app
 * and database are closed when the test ends.
 */
export async function build (t: Test, options: BuildOptions = {}): Promise<TestApp> {
  const { db, drop } = await openTestDatabase(t)
  const app = Fastify({ logger: false, ...options.server })
  await app.register(preferences, {
    prefix: PREFIX,
    auth: { secret: SECRET },
    database: db,
    ...options.plugin
  })
  t.after(async () => {
    await app.close()
    await db.destroy()
    await drop()
  })
  await app.ready()
  return {
    app,
    db,
    rows: async () => db.selectFrom('user_preference').selectAll().orderBy('id').execute()
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
