import createError from '@fastify/error'
import { readFileSync } from 'node:fs'
import type { KeyRegistry } from '../index.js'

/** Thrown at start-up when an environment variable is wrong; printed, then the process exits. */
export const InvalidConfigError = createError<'PREFERENCE_INVALID_CONFIG', 500, [string]>(
  'PREFERENCE_INVALID_CONFIG', 'Invalid configuration: %s', 500)

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** The standalone server's settings, read from the environment. */
export interface ServerConfig {
  host: string
  port: number
  /** DATABASE_URL as given; empty means the default SQLite file. */
  databaseUrl: string
  /** JWT_SECRET; undefined means "make one for this run". */
  jwtSecret?: string
  logLevel: LogLevel
  /** RATE_LIMIT_PER_MINUTE: requests per caller per minute; undefined means no limit. */
  rateLimitPerMinute?: number
  /** MAX_PREFERENCES_PER_USER: how many preferences a user may hold; undefined means the plugin's default (1,000). */
  maxPreferencesPerUser?: number
  /** KEYS_FILE, read: the key registry (its definitions are checked when the plugin registers). */
  keys?: KeyRegistry
  /** UNKNOWN_KEYS: `allow` (default) or `reject`. */
  unknownKeys: 'allow' | 'reject'
  /** REDIS_URL: a Redis shared by the instances (rate limit, streams per user); unset means none. */
  redisUrl?: string
  /** REDIS_PREFIX: the start of every key the plugin writes there (the plugin's redisPrefix); unset means its default. */
  redisPrefix?: string
}

/** A URL as it may be printed: its password replaced. */
export function withoutPassword (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password === '') return url
    parsed.password = '***'
    return parsed.toString()
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@')
  }
}

/** REDIS_URL: redis:// or rediss:// (TLS), as ioredis reads it. */
function readRedisUrl (value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidConfigError(`REDIS_URL must be a redis:// or rediss:// URL, got "${withoutPassword(value)}"`)
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new InvalidConfigError(`REDIS_URL must be a redis:// or rediss:// URL with a host, got "${withoutPassword(value)}"`)
  }
  return value
}

/** KEYS_FILE: a JSON object of key (or `prefix.*`) to { schema, default?, description?, writable? }. */
function readKeysFile (path: string): KeyRegistry {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new InvalidConfigError(`KEYS_FILE "${path}" cannot be read: ${(error as Error).message}`)
  }
  let keys: unknown
  try {
    keys = JSON.parse(text)
  } catch (error) {
    throw new InvalidConfigError(`KEYS_FILE "${path}" is not valid JSON: ${(error as Error).message}`)
  }
  if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) {
    throw new InvalidConfigError(`KEYS_FILE "${path}" must hold a JSON object of key to { "schema": ..., "default"?: ..., "description"?: ..., "writable"?: "user" | "admin" }`)
  }
  return keys as KeyRegistry
}

/** An optional positive integer variable; undefined when unset or empty. */
function positiveInteger (env: NodeJS.ProcessEnv, name: string, unset: string): number | undefined {
  const text = env[name]
  if (text === undefined || text === '') return undefined
  const value = Number(text)
  if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(value)) {
    throw new InvalidConfigError(`${name} must be a positive integer (unset for ${unset}), got "${text}"`)
  }
  return value
}

export function loadConfig (env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidConfigError(`PORT must be an integer from 0 to 65535, got "${env.PORT}"`)
  }
  const logLevel = (env.LOG_LEVEL === undefined || env.LOG_LEVEL === '' ? 'info' : env.LOG_LEVEL) as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new InvalidConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`)
  }
  const jwtSecret = env.JWT_SECRET === '' ? undefined : env.JWT_SECRET
  const rateLimitPerMinute = positiveInteger(env, 'RATE_LIMIT_PER_MINUTE', 'no limit')
  const maxPreferencesPerUser = positiveInteger(env, 'MAX_PREFERENCES_PER_USER', 'the default of 1000')
  const redisUrl = env.REDIS_URL === undefined || env.REDIS_URL === '' ? undefined : readRedisUrl(env.REDIS_URL)
  // Its characters are checked where the plugin registers (the message then names REDIS_PREFIX).
  const redisPrefix = env.REDIS_PREFIX === '' ? undefined : env.REDIS_PREFIX
  if (redisPrefix !== undefined && redisUrl === undefined) {
    throw new InvalidConfigError('REDIS_PREFIX is set but REDIS_URL is not: the prefix is for the keys in that Redis')
  }
  const unknownKeys = env.UNKNOWN_KEYS === undefined || env.UNKNOWN_KEYS === '' ? 'allow' : env.UNKNOWN_KEYS
  if (unknownKeys !== 'allow' && unknownKeys !== 'reject') {
    throw new InvalidConfigError(`UNKNOWN_KEYS must be "allow" or "reject", got "${unknownKeys}"`)
  }
  return {
    host: env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST,
    port,
    databaseUrl: env.DATABASE_URL ?? '',
    jwtSecret,
    logLevel,
    ...(rateLimitPerMinute !== undefined && { rateLimitPerMinute }),
    ...(maxPreferencesPerUser !== undefined && { maxPreferencesPerUser }),
    ...(env.KEYS_FILE !== undefined && env.KEYS_FILE !== '' && { keys: readKeysFile(env.KEYS_FILE) }),
    unknownKeys,
    ...(redisUrl !== undefined && { redisUrl }),
    ...(redisPrefix !== undefined && { redisPrefix })
  }
}
