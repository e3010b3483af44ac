import fastifyJwt from '@fastify/jwt'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import preferences, { type GroupsOf, preferencesOpenapi, type PreferencesPluginOptions } from '../index.js'
import { openRedis } from './redis.js'
import settingsPage from './settings-page.js'

export interface AppOptions {
  jwtSecret: string
  databaseUrl: string
  logger?: FastifyServerOptions['logger']
  /** Extra plugin options (limits, migrate, ...); an `auth` here replaces the jwtSecret one. */
  plugin?: Partial<PreferencesPluginOptions>
  /** Server limits; the defaults are SERVER_LIMITS. */
  limits?: Partial<ServerLimits>
  /** Where the settings page's built assets are (default: beside the compiled server; else bundled on first use). */
  settingsAssetsDir?: string
  /** A Redis the instances share (REDIS_URL): opened here, closed with the app. */
  redisUrl?: string
}

export const API_PREFIX = '/api/v2'
export const SETTINGS_PREFIX = '/settings'

/** What one client may take of the standalone server. */
export interface ServerLimits {
  /** An idle socket is closed after this many milliseconds. */
  connectionTimeout: number
  /** A whole request (headers and body) must arrive within this many milliseconds, or 408. */
  requestTimeout: number
  /** The headers must arrive within this many milliseconds, or 408 (slowloris). */
  headersTimeout: number
  /** How often Node looks for requests past those deadlines. */
  connectionsCheckingInterval: number
  keepAliveTimeout: number
  /** Largest request line plus headers, in bytes; larger is a 431. Room for a 20 KB token. */
  maxHeaderSize: number
}

export const SERVER_LIMITS: ServerLimits = {
  connectionTimeout: 60_000,
  requestTimeout: 30_000,
  headersTimeout: 10_000,
  connectionsCheckingInterval: 1_000,
  keepAliveTimeout: 10_000,
  maxHeaderSize: 32 * 1024
}

/**
 * The server's groups: the caller's own, from the token's `groups` claim (scope names, in
 * increasing precedence). Another user's groups (an admin reading them) are not known here.
 */
export const tokenGroups: GroupsOf = (userId, request) => {
  if (request?.preferencesCaller?.id !== userId) return []
  const groups = request.preferencesClaims?.groups
  return Array.isArray(groups) ? groups.filter((group): group is string => typeof group === 'string') : []
}

/** The standalone server: the plugin under /api/v2, a health check, the API docs and the settings page. */
export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const limits = { ...SERVER_LIMITS, ...options.limits }
  const app = Fastify({
    logger: options.logger ?? { level: 'info' },
    // A slow or stalled client cannot hold a connection or a request forever.
    connectionTimeout: limits.connectionTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    http: {
      headersTimeout: limits.headersTimeout,
      connectionsCheckingInterval: limits.connectionsCheckingInterval,
      maxHeaderSize: limits.maxHeaderSize
    },
    // Room for keys in by-key paths. The router compares the percent-decoded segment's length
    // in UTF-16 units: a 255-character key is at most 510 (255 emoji); Fastify's default is 100.
    routerOptions: { maxParamLength: 4096 },
    return503OnClosing: true
  })

  // Once shutdown starts, answers close their connection: an idle keep-alive socket would
  // otherwise hold server.close() open until the client lets go.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  // A callback hook: it runs on every answer, and an async one costs a promise each time.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })

  // The server signs its start-up token with this; the plugin verifies with its own
  // @fastify/jwt, which lives beside this one without touching it.
  await app.register(fastifyJwt, { secret: options.jwtSecret })

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'User preferences API',
        description: 'Per-user key/value preferences. Authenticate with a Bearer JWT.',
        version: '2.0.0'
      },
      components: { securitySchemes: { ...preferencesOpenapi.components.securitySchemes } },
      tags: [...preferencesOpenapi.tags, { name: 'health', description: 'For load balancers and monitors' }]
    }
  })
  await app.register(swaggerUi, {
    routePrefix: '/documentation',
    // A token pasted under "Authorize" is sent with "Try it out" and survives a page reload.
    uiConfig: { persistAuthorization: true, tryItOutEnabled: true, displayRequestDuration: true }
  })

  app.get('/health', {
    schema: {
      tags: ['health'],
      summary: 'Liveness check (no token needed)',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  const redis = options.redisUrl === undefined ? undefined : await openRedis(options.redisUrl, app.log)
  if (redis !== undefined) {
    // onClose hooks run last-added first: this one, added before the plugin's, runs after
    // the plugin has given back its stream slots.
    app.addHook('onClose', async () => { await redis.quit() })
  }
  try {
    await app.register(preferences, {
      groupsOf: tokenGroups,
      ...(redis !== undefined && { redis }),
      ...options.plugin,
      prefix: API_PREFIX,
      auth: options.plugin?.auth ?? { secret: options.jwtSecret },
      database: options.databaseUrl
    })
  } catch (error) {
    redis?.disconnect()
    throw error
  }
  await app.register(settingsPage, {
    prefix: SETTINGS_PREFIX,
    apiPrefix: API_PREFIX,
    keys: options.plugin?.keys,
    unknownKeys: options.plugin?.unknownKeys,
    ...(options.settingsAssetsDir !== undefined && { assetsDir: options.settingsAssetsDir })
  })
  return app
}
