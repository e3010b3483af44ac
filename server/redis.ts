import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { InvalidConfigError, withoutPassword } from './config.js'

/**
 * Opens the Redis at REDIS_URL, connected and answering, or throws a message naming it.
 * ioredis is an optional package: it is imported here, only when REDIS_URL is set.
 */
export async function openRedis (url: string, log: FastifyBaseLogger): Promise<Redis> {
  let ioredis: { Redis: typeof Redis }
  try {
    ioredis = await import('ioredis')
  } catch {
    throw new InvalidConfigError('REDIS_URL is set, but the optional package ioredis is not installed (npm install ioredis)')
  }
  const redis = new ioredis.Redis(url, {
    lazyConnect: true,
    connectTimeout: 5000,
    // While Redis is away a command fails at once instead of waiting in a queue: the rate
    // limit then lets requests through, and opening a stream answers 503.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000
  })
  // One line per outage, not one per reconnection attempt.
  let down = false
  let lastError: Error | undefined
  redis.on('error', (error: Error) => {
    lastError = error
    if (down) return
    down = true
    log.warn({ err: error }, 'Redis is unreachable; retrying')
  })
  redis.on('ready', () => {
    if (down) log.info('Redis is reachable again')
    down = false
  })
  try {
    await redis.connect()
    await redis.ping()
  } catch (error) {
    redis.disconnect()
    // The connection's own error (ECONNREFUSED...) says more than "Connection is closed".
    const reason = (lastError ?? error as Error).message
    throw new InvalidConfigError(`Redis at ${withoutPassword(url)} does not answer: ${reason} (check REDIS_URL)`)
  }
  return redis
}
