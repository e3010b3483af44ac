/// <reference path="./fastify-internal.d.ts" />
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RateLimitedError } from '../schemas/errors.js'
import type { RateLimitOptions } from '../options/plugin-options.js'

/**
 * A per-caller request budget. The key is the caller's user id, known once the auth hook
 * (an onRequest hook of the plugin, so it runs before this route-level one) has verified
 * the token: requests without a valid token are answered 401 before they count. The
 * 429 has the plugin's error shape and a Retry-After header (seconds).
 */
async function rateLimitPlugin (fastify: FastifyInstance, options: Required<RateLimitOptions>): Promise<void> {
  await fastify.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: options.max,
    timeWindow: options.timeWindow,
    keyGenerator: (request: FastifyRequest) => `user:${request.preferencesCaller?.id ?? request.ip}`,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after)
  })
}

export default fp(rateLimitPlugin, { name: 'preferences-rate-limit', fastify: '5.x' })
