/// <reference path="./fastify-internal.d.ts" />
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RateLimitedError } from '../schemas/errors.js'
import type { RateLimitOptions } from '../options/plugin-options.js'
import type { ResolvedOptions } from '../options/resolve-options.js'

export interface RateLimitPluginOptions extends Required<RateLimitOptions> {
  /** Counts in this Redis, shared by the instances, instead of in this process. */
  redis?: ResolvedOptions['redis']
}

/**
 * A per-caller request budget. The key is the caller's user id, known once the auth hook
 * (an onRequest hook of the plugin, so it runs before this route-level one) has verified
 * the token: requests without a valid token are answered 401 before they count. The
 * 429 has the plugin's error shape and a Retry-After header (seconds).
 */
async function rateLimitPlugin (fastify: FastifyInstance, options: RateLimitPluginOptions): Promise<void> {
  await fastify.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: options.max,
    timeWindow: options.timeWindow,
    keyGenerator: (request: FastifyRequest) => `user:${request.preferencesCaller?.id ?? request.ip}`,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after),
    ...(options.redis !== undefined && {
      // @fastify/rate-limit's own Redis store: one counter per caller for every instance.
      redis: options.redis.client,
      nameSpace: `${options.redis.prefix}rate-limit:`,
      // Redis away: requests go on unlimited rather than all failing (the limit guards
      // against a runaway client; an outage of it should not take the API down).
      skipOnError: true
    })
  })
}

export default fp(rateLimitPlugin, { name: 'preferences-rate-limit', fastify: '5.x' })
