// The hand-written baseline the benchmark compares the plugin with: bare Fastify,
// @fastify/jwt and prepared better-sqlite3 statements doing the same work per request
// (verify the token, self-or-admin, validate, query, serialize the same JSON).
import fastifyJwt from '@fastify/jwt'
import SQLite from 'better-sqlite3'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'

const file = process.env.DATABASE_URL ?? 'bench.sqlite'
const secret = process.env.JWT_SECRET ?? 'bench'
const port = Number(process.env.PORT ?? 0)
const MAX_PER_USER = 1000

const db = new SQLite(file)
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')
db.pragma('busy_timeout = 5000')

interface Row { id: number, user_id: number, key: string, value: string, created_at: string, last_updated_at: string }
const stmt = {
  count: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM user_preference WHERE user_id = ?'),
  insert: db.prepare<[number, string, string, string, string], Row>(
    'INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at) VALUES (?, ?, ?, ?, ?) RETURNING *'),
  get: db.prepare<[number, number], Row>('SELECT * FROM user_preference WHERE user_id = ? AND id = ?'),
  getByKey: db.prepare<[number, string], Row>('SELECT * FROM user_preference WHERE user_id = ? AND key = ?'),
  countKey: db.prepare<[number, string], { n: number }>('SELECT count(*) AS n FROM user_preference WHERE user_id = ? AND key = ?'),
  listKey: db.prepare<[number, string, number, number], Row>(
    'SELECT * FROM user_preference WHERE user_id = ? AND key = ? ORDER BY id LIMIT ? OFFSET ?'),
  list: db.prepare<[number, number, number], Row>('SELECT * FROM user_preference WHERE user_id = ? ORDER BY id LIMIT ? OFFSET ?'),
  patchValue: db.prepare<[string, string, number, number], Row>(
    'UPDATE user_preference SET value = ?, last_updated_at = ? WHERE user_id = ? AND id = ? RETURNING *'),
  delete: db.prepare<[number, number]>('DELETE FROM user_preference WHERE user_id = ? AND id = ?')
}
const create = db.transaction((userId: number, key: string, value: string, now: string) => {
  if (stmt.count.get(userId)!.n >= MAX_PER_USER) return 'limit'
  try {
    return stmt.insert.get(userId, key, value, now, now)!
  } catch {
    return 'exists'
  }
})

const toPreference = (r: Row) => ({ ...r, value: JSON.parse(r.value) })

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

const app = Fastify({ logger: false })
await app.register(fastifyJwt, { secret })

declare module 'fastify' {
  interface FastifyRequest { targetUser: number }
}
app.decorateRequest('targetUser', 0)
app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
  let claims: { sub?: string | number, roles?: string[] }
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
  const result = create(request.targetUser, key, json, new Date().toISOString())
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
  const count = key === undefined ? stmt.count.get(user)!.n : stmt.countKey.get(user, key)!.n
  const rows = key === undefined ? stmt.list.all(user, limit, offset) : stmt.listKey.all(user, key, limit, offset)
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

app.get('/api/v2/user/:user_id/preference/:id/', {
  schema: { params: itemParams, response: { 200: preference } }
}, async (request, reply) => {
  const row = stmt.get.get(request.targetUser, Number((request.params as { id: string }).id))
  return row === undefined ? notFound(reply) : toPreference(row)
})

app.get('/api/v2/user/:user_id/preference/by-key/:key/', {
  schema: { params: { type: 'object', properties: { user_id: userParams.properties.user_id, key: keySchema } }, response: { 200: preference } }
}, async (request, reply) => {
  const row = stmt.getByKey.get(request.targetUser, (request.params as { key: string }).key)
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
  const row = stmt.patchValue.get(JSON.stringify(value), new Date().toISOString(), request.targetUser,
    Number((request.params as { id: string }).id))
  return row === undefined ? notFound(reply) : toPreference(row)
})

app.delete('/api/v2/user/:user_id/preference/:id/', {
  schema: { params: itemParams }
}, async (request, reply) => {
  const { changes } = stmt.delete.run(request.targetUser, Number((request.params as { id: string }).id))
  return changes === 0 ? notFound(reply) : reply.code(204).send()
})

const address = await app.listen({ host: '127.0.0.1', port })
process.stdout.write(`listening ${address}\n`)
const stop = () => { app.close().then(() => { db.close(); process.exit(0) }, () => process.exit(1)) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
