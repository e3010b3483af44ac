/// <reference path="./fastify-internal.d.ts" />
import type { FastifyInstance } from 'fastify'
import { redactedUrl } from '../lib/redact.js'
import { RouteTable } from '../lib/route-table.js'
import type { PreferencesPluginOptions } from '../options/plugin-options.js'
import { type ResolvedOptions, resolveOptions } from '../options/resolve-options.js'
import byKeyRoutes from '../routes/by-key.js'
import changeRoutes from '../routes/changes.js'
import collectionRoutes from '../routes/collection.js'
import itemRoutes from '../routes/item.js'
import effectiveRoutes from '../routes/effective.js'
import eventRoutes from '../routes/events.js'
import mergePatchRoutes from '../routes/merge-patch.js'
import { importRoutes, portabilityRoutes } from '../routes/portability.js'
import scopeDefaultRoutes from '../routes/scope-defaults.js'
import { FORM_TYPE, JSON_TYPE, MERGE_PATCH_TYPE } from '../schemas/media-types.js'
import { LocalStreamSlots, RedisStreamSlots, type StreamSlots } from '../store/stream-slots.js'
import authenticatePlugin from './authenticate.js'
import authorizePlugin from './authorize.js'
import bodyParsersPlugin from './body-parsers.js'
import { serializerCompiler, validatorCompiler } from './compilers.js'
import errorHandlerPlugin from './error-handler.js'
import { setNotFoundHandler } from './not-found.js'
import rateLimitPlugin from './rate-limit.js'
import storePlugin from './store.js'

/**
 * The preferences resource: the composition root. Deliberately not wrapped in fastify-plugin:
 * it stays encapsulated, so the host's `prefix` applies and nothing it sets up (parsers,
 * hooks, error handler, validators, its @fastify/jwt) leaks into the host application.
 */
async function userPreferences (fastify: FastifyInstance, options: PreferencesPluginOptions): Promise<void> {
  const resolved = resolveOptions(options)
  // Every route of the plugin, as registered below: which methods a path has, for 405s.
  const routeTable = new RouteTable()
  fastify.addHook('onRoute', (route) => { routeTable.add(route.method, route.url) })

  // A token sent in the query (the event stream takes one there) never reaches the log.
  fastify.addHook('onRoute', (route) => {
    route.logSerializers = {
      ...route.logSerializers,
      req: (request: { method: string, url: string }) => ({ method: request.method, url: redactedUrl(request.url) })
    }
  })

  fastify.setValidatorCompiler(validatorCompiler)
  fastify.setSerializerCompiler(serializerCompiler)
  await fastify.register(errorHandlerPlugin)
  await fastify.register(storePlugin, resolved)
  // onRequest, in this order: 401, then 404/405 for a route that does not exist, 400 for the
  // path and 403, then the rate limit.
  await fastify.register(authenticatePlugin, resolved.auth)
  await fastify.register(authorizePlugin, {
    routes: routeTable,
    groupsOf: fastify.preferencesStore.options.groupsOf,
    canManageScope: resolved.canManageScope
  })
  if (resolved.rateLimit !== false) await fastify.register(rateLimitPlugin, { ...resolved.rateLimit, redis: resolved.redis })
  const streamSlots = streamSlotsFor(fastify, resolved)

  await fastify.register(async (routes) => {
    await routes.register(bodyParsersPlugin, { bodyLimit: resolved.bodyLimit, mediaTypes: [JSON_TYPE, FORM_TYPE] })
    await routes.register(effectiveRoutes)
    await routes.register(changeRoutes)
    await routes.register(eventRoutes, { ...resolved, streamSlots })
    await routes.register(collectionRoutes, resolved)
    await routes.register(itemRoutes, resolved)
    await routes.register(byKeyRoutes, resolved)
    await routes.register(scopeDefaultRoutes)
    await routes.register(portabilityRoutes)
  })
  // An import is JSON only, with a body limit of its own.
  await fastify.register(async (routes) => {
    await routes.register(bodyParsersPlugin, { bodyLimit: resolved.maxImportBytes, mediaTypes: [JSON_TYPE] })
    await routes.register(importRoutes, resolved)
  })
  // The bulk change reads its own media type and no other.
  await fastify.register(async (routes) => {
    await routes.register(bodyParsersPlugin, { bodyLimit: resolved.bodyLimit, mediaTypes: [MERGE_PATCH_TYPE] })
    await routes.register(mergePatchRoutes, resolved)
  })
  // Unknown paths under the plugin's own prefix answer in its error shape, after the 401.
  // Registered without a prefix, the plugin shares the host's paths and leaves its 404s alone.
  const prefix = (options as { prefix?: unknown }).prefix
  if (typeof prefix === 'string' && prefix !== '' && prefix !== '/' && fastify.prefix !== '') {
    setNotFoundHandler(fastify, routeTable)
  }
}

// How long Redis waits for a lease's refresh (at each heartbeat): two may be missed.
const LEASE_HEARTBEATS = 3
// How long opening a stream waits for Redis before it answers 503.
const REDIS_TIMEOUT_MS = 2000

/** Where maxStreamsPerUser is counted: in this process, or in the shared Redis. */
function streamSlotsFor (fastify: FastifyInstance, resolved: ResolvedOptions): StreamSlots {
  if (resolved.redis === undefined) return new LocalStreamSlots()
  return new RedisStreamSlots(resolved.redis.client, {
    prefix: resolved.redis.prefix,
    leaseMs: resolved.heartbeatSeconds * 1000 * LEASE_HEARTBEATS,
    timeoutMs: REDIS_TIMEOUT_MS,
    onError: (error, what) => { fastify.log.warn({ err: error }, `preferences: a stream slot's ${what} failed in Redis; its lease ends by itself`) }
  })
}

Object.defineProperty(userPreferences, Symbol.for('fastify.display-name'), { value: 'fastify-user-preferences' })

export default userPreferences
