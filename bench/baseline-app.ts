// What both hand-written baselines share: the Fastify app with @fastify/jwt, the
// self-or-admin hook, the route schemas, the handlers and the JSON they answer. Each
// baseline supplies only its storage (bench/baseline.ts: prepared better-sqlite3
// statements; bench/baseline-pg.ts: named prepared statements on a pg.Pool).
import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { readFileSync } from 'node:fs'

export interface Row {
  id: number | string
  user_id: number | string
  key: string
  value: string
  created_at: string | Date
  last_updated_at: string | Date
}

type MaybePromise<T> = T | Promise<T>

export interface Layer {
  scope: string | null
  key: string
  value: string
  locked: number
}

/** The storage a baseline brings; every write is one plain statement (an import one transaction). */
export interface Store {
  /** One INSERT; 'exists' when the key is taken. */
  create: (userId: number, key: string, value: string, now: string) => MaybePromise<Row | 'exists'>
  get: (userId: number, id: number) => MaybePromise<Row | undefined>
  getByKey: (userId: number, key: string) => MaybePromise<Row | undefined>
  count: (userId: number, key: string | undefined) => MaybePromise<number>
  list: (userId: number, key: string | undefined, limit: number, offset: number) => MaybePromise<Row[]>
  patchValue: (value: string, now: string, userId: number, id: number) => MaybePromise<Row | undefined>
  /** PUT by key: one upsert. */
  upsertByKey: (userId: number, key: string, value: string, now: string) => MaybePromise<{ row: Row, created: boolean }>
  /** True when a row was deleted. */
  delete: (userId: number, id: number) => MaybePromise<boolean>
  /**
   * An import: every [key, value JSON] set for the user (inserted, or updated when the key
   * exists) in one transaction; the number of rows written.
   */
  importMany: (userId: number, entries: Array<[string, string]>, now: string) => MaybePromise<number>
  /** The user's rows (scope null) and the defaults of `scopes`: one query. */
  layers: (userId: number, scopes: string[]) => MaybePromise<Layer[]>
  close: () => MaybePromise<void>
}

const iso = (value: string | Date): string => typeof value === 'string' ? value : value.toISOString()
const toPreference = (r: Row) => ({
  id: Number(r.id),
  user_id: Number(r.user_id),
  key: r.key,
  value: JSON.parse(r.value),
  created_at: iso(r.created_at),
  last_updated_at: iso(r.last_updated_at)
})

const preference = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    user_id: { type: 'integer' },
    key: { type: 'string' },
    value: {},
    created_at: { type: 'string' },
    last_updated_at: { type: 'string' }
  }
}
const error = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' } }
}
const userParams = { type: 'object', properties: { user_id: { type: 'string', pattern: '^(me|[1-9][0-9]*)$' } } }
const itemParams = { type: 'object', properties: { user_id: userParams.properties.user_id, id: { type: 'string', pattern: '^[1-9][0-9]*$' } } }
const keySchema = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001F\\u007F]*$' }

declare module 'fastify' {
  interface FastifyRequest { targetUser: number, groups: string[] }
}

interface Entry { value: unknown, source: string, locked: boolean }

/** Registry defaults, then site, then the groups in order, then the user; the first lock wins. */
function effective (defaults: Record<string, unknown>, scopes: string[], rows: Layer[]): Record<string, Entry> {
  const out: Record<string, Entry> = {}
  const lockedBy: Record<string, number> = {}
  for (const [key, value] of Object.entries(defaults)) out[key] = { value, source: 'registry', locked: false }
  const rank = (scope: string | null) => scope === null ? scopes.length : scopes.indexOf(scope)
  const sorted = [...rows].sort((a, b) => rank(a.scope) - rank(b.scope))
  for (const row of sorted) {
    const r = rank(row.scope)
    if (lockedBy[row.key] !== undefined && lockedBy[row.key] < r) continue
    out[row.key] = { value: JSON.parse(row.value), source: row.scope === null ? 'user' : `scope:${row.scope}`, locked: Number(row.locked) === 1 }
    if (Number(row.locked) === 1) lockedBy[row.key] = r
  }
  return out
}

/** Builds the baseline app on `store`, listens on PORT (127.0.0.1) and closes on SIGTERM/SIGINT. */
export async function runBaseline (store: Store): Promise<void> {
  const secret = process.env.JWT_SECRET ?? 'bench'
  const port = Number(process.env.PORT ?? 0)

  const app = Fastify({ logger: false })
  await app.register(fastifyJwt, { secret })

  app.decorateRequest('targetUser', 0)
  app.decorateRequest('groups', null as unknown as string[])
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    let claims: { sub?: string | number, roles?: string[], groups?: string[] }
    try {
      claims = await request.jwtVerify()
    } catch {
      return reply.code(401).send({ statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized', message: 'bad token' })
    }
    const caller = Number(claims.sub)
    const param = (request.params as { user_id: string }).user_id
    const target = param === 'me' ? caller : Number(param)
    if (target !== caller && !claims.roles?.includes('admin')) {
      return reply.code(403).send({ statusCode: 403, code: 'FORBIDDEN', error: 'Forbidden', message: 'forbidden' })
    }
    request.targetUser = target
    request.groups = target === caller && Array.isArray(claims.groups) ? claims.groups : []
  })

  const notFound = (reply: FastifyReply) =>
    reply.code(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'Preference not found' })

  app.post('/api/v2/user/:user_id/preference/', {
    schema: {
      params: userParams,
      body: { type: 'object', required: ['key', 'value'], properties: { key: keySchema, value: {} } },
      response: { 201: preference, '4xx': error }
    }
  }, async (request, reply) => {
    const { key, value } = request.body as { key: string, value: unknown }
    const json = JSON.stringify(value)
    if (Buffer.byteLength(json) > 65536) return reply.code(413).send({ statusCode: 413, code: 'TOO_LARGE', error: 'Payload Too Large', message: 'too large' })
    const result = await store.create(request.targetUser, key, json, new Date().toISOString())
    if (typeof result === 'string') return reply.code(409).send({ statusCode: 409, code: result, error: 'Conflict', message: result })
    return reply.code(201).header('location', `/api/v2/user/${result.user_id}/preference/${result.id}/`).send(toPreference(result))
  })

  app.get('/api/v2/user/:user_id/preference/', {
    schema: {
      params: userParams,
      querystring: {
        type: 'object',
        properties: {
          key: { type: 'string' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          offset: { type: 'integer', minimum: 0, default: 0 }
        }
      },
      response: {
        200: {
          type: 'object',
          properties: {
            count: { type: 'integer' },
            next: { type: ['string', 'null'] },
            previous: { type: ['string', 'null'] },
            results: { type: 'array', items: preference }
          }
        }
      }
    }
  }, async (request) => {
    const { key, limit, offset } = request.query as { key?: string, limit: number, offset: number }
    const user = request.targetUser
    const count = await store.count(user, key)
    const rows = await store.list(user, key, limit, offset)
    const base = `${request.protocol}://${request.host}${request.url.split('?')[0]}`
    const link = (o: number) => {
      const q = new URLSearchParams(request.query as Record<string, string>)
      q.set('offset', String(o))
      return `${base}?${q.toString()}`
    }
    return {
      count,
      next: offset + limit < count ? link(offset + limit) : null,
      previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
      results: rows.map(toPreference)
    }
  })

  // The registry's defaults, from the file the plugin loads too.
  const registry = JSON.parse(readFileSync(process.env.KEYS_FILE as string, 'utf8')) as Record<string, { default?: unknown }>
  const defaults = Object.fromEntries(Object.entries(registry).filter(([, d]) => d.default !== undefined).map(([k, d]) => [k, d.default]))
  app.get('/api/v2/user/:user_id/preference/effective/', {
    schema: {
      params: userParams,
      response: {
        200: {
          type: 'object',
          properties: {
            preferences: {
              type: 'object',
              additionalProperties: {
                type: 'object', properties: { value: {}, source: { type: 'string' }, locked: { type: 'boolean' } }
              }
            }
          }
        }
      }
    }
  }, async (request) => {
    const scopes = ['site', ...request.groups]
    return { preferences: effective(defaults, scopes, await store.layers(request.targetUser, scopes)) }
  })

  app.post('/api/v2/user/:user_id/preference/import/', {
    schema: {
      params: userParams,
      body: { type: 'object', required: ['preferences'], properties: { preferences: { type: 'object' } } },
      response: { 200: { type: 'object', properties: { written: { type: 'integer' } } }, '4xx': error }
    }
  }, async (request, reply) => {
    const entries: Array<[string, string]> = []
    for (const [key, value] of Object.entries((request.body as { preferences: Record<string, unknown> }).preferences)) {
      const json = JSON.stringify(value)
      if (Buffer.byteLength(json) > 65536) return reply.code(413).send({ statusCode: 413, code: 'TOO_LARGE', error: 'Payload Too Large', message: key })
      entries.push([key, json])
    }
    const written = await store.importMany(request.targetUser, entries, new Date().toISOString())
    return { written }
  })

  app.get('/api/v2/user/:user_id/preference/:id/', {
    schema: { params: itemParams, response: { 200: preference } }
  }, async (request, reply) => {
    const row = await store.get(request.targetUser, Number((request.params as { id: string }).id))
    return row === undefined ? notFound(reply) : toPreference(row)
  })

  app.get('/api/v2/user/:user_id/preference/by-key/:key/', {
    schema: { params: { type: 'object', properties: { user_id: userParams.properties.user_id, key: keySchema } }, response: { 200: preference } }
  }, async (request, reply) => {
    const row = await store.getByKey(request.targetUser, (request.params as { key: string }).key)
    return row === undefined ? notFound(reply) : toPreference(row)
  })

  app.patch('/api/v2/user/:user_id/preference/:id/', {
    schema: {
      params: itemParams,
      body: { type: 'object', properties: { key: keySchema, value: {} } },
      response: { 200: preference }
    }
  }, async (request, reply) => {
    const { value } = request.body as { value: unknown }
    const row = await store.patchValue(JSON.stringify(value), new Date().toISOString(), request.targetUser,
      Number((request.params as { id: string }).id))
    return row === undefined ? notFound(reply) : toPreference(row)
  })

  app.put('/api/v2/user/:user_id/preference/by-key/:key/', {
    schema: {
      params: { type: 'object', properties: { user_id: userParams.properties.user_id, key: keySchema } },
      body: { type: 'object', required: ['value'], properties: { value: {} } },
      response: { 200: preference, 201: preference, '4xx': error }
    }
  }, async (request, reply) => {
    const json = JSON.stringify((request.body as { value: unknown }).value)
    if (Buffer.byteLength(json) > 65536) return reply.code(413).send({ statusCode: 413, code: 'TOO_LARGE', error: 'Payload Too Large', message: 'too large' })
    const result = await store.upsertByKey(request.targetUser, (request.params as { key: string }).key, json, new Date().toISOString())
    return reply.code(result.created ? 201 : 200).send(toPreference(result.row))
  })

  app.delete('/api/v2/user/:user_id/preference/:id/', {
    schema: { params: itemParams }
  }, async (request, reply) => {
    const deleted = await store.delete(request.targetUser, Number((request.params as { id: string }).id))
    return deleted ? reply.code(204).send() : notFound(reply)
  })

  const address = await app.listen({ host: '127.0.0.1', port })
  process.stdout.write(`listening ${address}\n`)
  const stop = () => {
    app.close().then(async () => { await store.close(); process.exit(0) }, () => process.exit(1))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
