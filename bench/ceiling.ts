// The framework's ceiling: bare Fastify answering every request of the benchmark with one fixed,
// Preference-sized JSON body (serialized through a response schema, as the others do). No
// token, no database: what a request costs before any work of the plugin's or a baseline's.
import Fastify from 'fastify'

const port = Number(process.env.PORT ?? 0)
const app = Fastify({ logger: false })

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
const ANSWER = {
  id: 7,
  user_id: 1,
  key: 'k6',
  value: { mode: 'dark', i: 6, tags: ['a', 'b'] },
  created_at: '2026-12-02T10:00:00.000Z',
  last_updated_at: '2026-12-02T10:00:00.000Z'
}

for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const) {
  // The body, when there is one, is parsed as JSON as everywhere else.
  app.route({
    method,
    url: '/*',
    schema: { response: { 200: preference, 201: preference } },
    handler: async (_request, reply) => reply.code(method === 'POST' ? 201 : 200).send(ANSWER)
  })
}

const address = await app.listen({ host: '127.0.0.1', port })
process.stdout.write(`listening ${address}\n`)
const stop = () => { app.close().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
