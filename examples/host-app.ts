// A host application that mounts the preferences plugin and keeps its own authentication:
// it signs its users' tokens with its own @fastify/jwt, with its own claims ({ uid, staff }),
// and the plugin reuses that (auth.verify: 'host-jwt') instead of verifying tokens itself.
// It also documents the plugin's routes in its own OpenAPI document.
//
//   node --import tsx examples/host-app.ts      (PORT, DATABASE_URL, JWT_SECRET)
//
// In your application, import from 'fastify-user-preferences' instead of '../index.js'.
import fastifyJwt from '@fastify/jwt'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import preferences, { type Caller, preferencesOpenapi, type TokenClaims } from '../index.js'

export interface HostOptions {
  /** The host's own JWT secret. */
  jwtSecret: string
  /** Where the preferences live: a SQLite path, `:memory:` or a postgres:// URL. */
  database: string
  logger?: boolean
}

/** The host's claims, as its login would put them in a token. */
export interface HostClaims {
  uid: number
  staff?: boolean
}

/** The host's users, as the plugin needs them: `uid` is the user id, staff are admins. */
function mapCaller (claims: TokenClaims): Caller | null {
  const { uid, staff } = claims as Partial<HostClaims>
  return typeof uid === 'number' && Number.isSafeInteger(uid) && uid > 0 ? { id: uid, isAdmin: staff === true } : null
}

export async function build (options: HostOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })

  // The host's own authentication, registered before the plugin so that the plugin sees it.
  await app.register(fastifyJwt, { secret: options.jwtSecret })

  // The host's OpenAPI document; the plugin's routes, registered after it, appear in it.
  await app.register(swagger, {
    openapi: {
      info: { title: 'Example host', version: '1.0.0' },
      components: { securitySchemes: { ...preferencesOpenapi.components.securitySchemes } },
      tags: [...preferencesOpenapi.tags, { name: 'host' }]
    }
  })
  await app.register(swaggerUi, { routePrefix: '/documentation', uiConfig: { persistAuthorization: true } })

  // A route of the host's own, with the same tokens.
  app.get('/hello', {
    onRequest: async (request) => { await request.jwtVerify() },
    schema: {
      tags: ['host'],
      security: [{ bearerAuth: [] }],
      response: { 200: { type: 'object', properties: { hello: { type: 'integer' } } } }
    }
  }, async (request) => ({ hello: (request.user as HostClaims).uid }))

  await app.register(preferences, {
    prefix: '/api/v2',
    auth: { verify: 'host-jwt', mapCaller },
    database: options.database
  })
  return app
}

// Run directly: listen, and print a token to try it with.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const jwtSecret = process.env.JWT_SECRET ?? randomBytes(32).toString('base64url')
  const app = await build({ jwtSecret, database: process.env.DATABASE_URL ?? ':memory:', logger: true })
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
  const token = app.jwt.sign({ uid: 1 } satisfies HostClaims, { expiresIn: '1h' })
  process.stdout.write(`Example host at ${address}\nA token for user 1: ${token}\n`)
  const stop = () => { app.close().then(() => process.exit(0), () => process.exit(1)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
