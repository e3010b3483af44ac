import type { FastifyInstance } from 'fastify'
import byKeyRoutes from '../routes/by-key.js'
import mergePatchRoutes from '../routes/merge-patch.js'
import preferenceRoutes from '../routes/preferences.js'
import authPlugin from './auth.js'
import bodyParsersPlugin from './body-parsers.js'
import databasePlugin from './database.js'
import errorHandlerPlugin from './error-handler.js'
import { type PreferencesPluginOptions, resolveOptions } from './options.js'
import rateLimitPlugin from './rate-limit.js'
import { serializerCompiler } from './serialization.js'
import { validatorCompiler } from './validation.js'

/**
 * The preferences resource. Deliberately not wrapped in fastify-plugin: it stays
 * encapsulated, so the host's `prefix` applies and nothing it sets up (parsers, hooks,
 * error handler, validators) leaks into the host application.
 */
async function preferences (fastify: FastifyInstance, options: PreferencesPluginOptions): Promise<void> {
  const resolved = resolveOptions(options)

  fastify.setValidatorCompiler(validatorCompiler)
  fastify.setSerializerCompiler(serializerCompiler)
  await fastify.register(errorHandlerPlugin)
  await fastify.register(databasePlugin, resolved)
  await fastify.register(authPlugin, resolved.auth)
  if (resolved.rateLimit !== false) await fastify.register(rateLimitPlugin, resolved.rateLimit)
  await fastify.register(bodyParsersPlugin, { bodyLimit: resolved.bodyLimit })
  await fastify.register(preferenceRoutes, resolved)
  await fastify.register(byKeyRoutes, resolved)
  await fastify.register(mergePatchRoutes, resolved)
}

Object.defineProperty(preferences, Symbol.for('fastify.display-name'), { value: 'fastify-user-preferences' })

export default preferences
