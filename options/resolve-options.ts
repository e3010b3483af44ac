import { InvalidOptionError } from '../schemas/errors.js'
import { PreferenceCore } from '../store/preference-core.js'
import { STORE_CORE } from '../store/preference-store.js'
import { positiveInteger, resolveStoreOptions, type ResolvedStoreOptions, type StoreOptions } from '../store/store-options.js'
import {
  ASYMMETRIC_ALGORITHMS, type CallerMapper, type CanManageScope, HOST_JWT, type HostVerifier, type JwtAlgorithm, type PreferencesAuthOptions,
  type PreferencesPluginOptions, type PreferencesRedis, type RateLimitOptions, SYMMETRIC_ALGORITHMS
} from './plugin-options.js'

/** The plugin verifies tokens itself (with @fastify/jwt). */
export interface ResolvedTokenAuthOptions {
  verify?: undefined
  /** A shared secret (HMAC) or a public key. */
  kind: 'secret' | 'publicKey'
  key: string | Buffer
  algorithms: JwtAlgorithm[]
  issuer?: string[]
  audience?: string[]
  clockToleranceMs: number
  mapCaller?: CallerMapper
}

/** The host verifies. */
export interface ResolvedHostAuthOptions {
  verify: typeof HOST_JWT | HostVerifier
  mapCaller?: CallerMapper
}

export type ResolvedAuthOptions = ResolvedTokenAuthOptions | ResolvedHostAuthOptions

export interface ResolvedOptions {
  auth: ResolvedAuthOptions
  /** The store's options, or the store the host gave (then the host closes it). */
  store: ResolvedStoreOptions | PreferenceCore
  canManageScope: CanManageScope | undefined
  maxValueBytes: number
  maxPreferencesPerUser: number
  maxPageSize: number
  heartbeatSeconds: number
  maxStreamsPerUser: number
  bodyLimit: number
  maxImportBytes: number
  rateLimit: Required<RateLimitOptions> | false
  /** The shared Redis and the prefix of the plugin's keys in it, or undefined. */
  redis: { client: PreferencesRedis, prefix: string } | undefined
}

function stringList (name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0 || !list.every((item) => typeof item === 'string' && item !== '')) {
    throw new InvalidOptionError(`${name} must be a non-empty string or array of non-empty strings`)
  }
  return list as string[]
}

const isKey = (value: unknown): value is string | Buffer =>
  (typeof value === 'string' && value !== '') || (Buffer.isBuffer(value) && value.length > 0)

// Options of the plugin's own token verification: meaningless when the host verifies.
const OWN_VERIFICATION_OPTIONS = ['secret', 'publicKey', 'algorithms', 'issuer', 'audience', 'clockToleranceSeconds'] as const

function resolveHostAuth (auth: PreferencesAuthOptions): ResolvedHostAuthOptions {
  if (auth.verify !== HOST_JWT && typeof auth.verify !== 'function') {
    throw new InvalidOptionError(`auth.verify must be "${HOST_JWT}" (the host's @fastify/jwt) or a function (request) => claims, got ${JSON.stringify(auth.verify)}`)
  }
  const own = OWN_VERIFICATION_OPTIONS.filter((name) => auth[name] !== undefined)
  if (own.length > 0) {
    throw new InvalidOptionError(`auth.verify leaves verification to the host, so ${own.map((name) => `auth.${name}`).join(', ')} cannot be set with it (they configure the plugin's own verification)`)
  }
  return { verify: auth.verify, mapCaller: auth.mapCaller }
}

function resolveAuth (auth: PreferencesAuthOptions | undefined): ResolvedAuthOptions {
  if (auth === null || typeof auth !== 'object') {
    throw new InvalidOptionError('auth is required: { secret } for HS256, { publicKey, algorithms } for RS256/ES256, or { verify } when the host authenticates')
  }
  if (auth.mapCaller !== undefined && typeof auth.mapCaller !== 'function') {
    throw new InvalidOptionError('auth.mapCaller must be a function (claims, request) => { id, isAdmin } | null')
  }
  if (auth.verify !== undefined) return resolveHostAuth(auth)
  const hasSecret = auth.secret !== undefined
  const hasPublicKey = auth.publicKey !== undefined
  if (hasSecret === hasPublicKey) {
    throw new InvalidOptionError('auth needs exactly one of secret (HS256), publicKey (RS256, ES256, ...) and verify (the host authenticates)')
  }
  const key = hasSecret ? auth.secret : auth.publicKey
  if (!isKey(key)) {
    throw new InvalidOptionError(`auth.${hasSecret ? 'secret' : 'publicKey'} must be a non-empty string or Buffer`)
  }
  // A key only ever verifies its own family of algorithms: this is what stops an attacker
  // from signing HS256 tokens with a public RSA key ("algorithm confusion").
  const allowed: readonly string[] = hasSecret ? SYMMETRIC_ALGORITHMS : ASYMMETRIC_ALGORITHMS
  const algorithms = auth.algorithms ?? (hasSecret ? ['HS256'] : ['RS256', 'ES256'])
  if (!Array.isArray(algorithms) || algorithms.length === 0 || !algorithms.every((a) => allowed.includes(a))) {
    throw new InvalidOptionError(`auth.algorithms must be a non-empty list of ${allowed.join(', ')} with a ${hasSecret ? 'secret' : 'public key'}`)
  }
  const tolerance = auth.clockToleranceSeconds ?? 0
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0 || tolerance > 3600) {
    throw new InvalidOptionError('auth.clockToleranceSeconds must be a number of seconds from 0 to 3600')
  }
  return {
    kind: hasSecret ? 'secret' : 'publicKey',
    key,
    algorithms: [...algorithms],
    issuer: stringList('auth.issuer', auth.issuer),
    audience: stringList('auth.audience', auth.audience),
    clockToleranceMs: tolerance * 1000,
    mapCaller: auth.mapCaller
  }
}

function resolveRateLimit (value: unknown): Required<RateLimitOptions> | false {
  if (value === undefined || value === false) return false
  if (value === null || typeof value !== 'object') {
    throw new InvalidOptionError('rateLimit must be false or { max, timeWindow } (timeWindow in milliseconds)')
  }
  const { max, timeWindow } = value as RateLimitOptions
  return {
    max: positiveInteger('rateLimit.max', max ?? null, 0),
    timeWindow: positiveInteger('rateLimit.timeWindow', timeWindow, 60_000, 24 * 3600 * 1000)
  }
}

export const DEFAULT_REDIS_PREFIX = 'preferences:'

function resolveRedis (redis: unknown, prefix: unknown): ResolvedOptions['redis'] {
  if (redis === undefined) {
    if (prefix !== undefined) throw new InvalidOptionError('redisPrefix is set but redis is not: pass the ioredis client as redis')
    return undefined
  }
  const client = redis as Partial<Record<keyof PreferencesRedis, unknown>> | null
  if (client === null || typeof client !== 'object' || !(['eval', 'evalsha', 'defineCommand'] as const).every((name) => typeof client[name] === 'function')) {
    throw new InvalidOptionError('redis must be an ioredis 5 client (new Redis(...) from the ioredis package)')
  }
  // Printable ASCII without spaces: it is read back in redis-cli and in key patterns.
  if (prefix !== undefined && (typeof prefix !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(prefix))) {
    throw new InvalidOptionError('redisPrefix must be 1 to 100 printable ASCII characters without spaces, such as "preferences:"')
  }
  return { client: redis as PreferencesRedis, prefix: prefix ?? DEFAULT_REDIS_PREFIX }
}

// What a given store carries: setting them beside it would be ignored, so it is refused.
const STORE_CARRIES = ['database', 'databaseOptions', 'migrate', 'keys', 'unknownKeys', 'groupsOf', 'maxValueBytes', 'maxPreferencesPerUser'] as const

function resolveStore (options: PreferencesPluginOptions): ResolvedStoreOptions | PreferenceCore {
  if (options.store === undefined) return resolveStoreOptions(options as StoreOptions)
  const core = (options.store as { [STORE_CORE]?: PreferenceCore } | null)?.[STORE_CORE]
  if (core === undefined) throw new InvalidOptionError('store must be made by createPreferenceStore()')
  const carried = STORE_CARRIES.filter((name) => options[name] !== undefined)
  if (carried.length > 0) {
    throw new InvalidOptionError(`store carries its own ${carried.join(', ')}: set ${carried.length > 1 ? 'them' : 'it'} on createPreferenceStore() instead`)
  }
  return core
}

export function resolveOptions (options: PreferencesPluginOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options must be an object')
  }
  if (options.canManageScope !== undefined && typeof options.canManageScope !== 'function') {
    throw new InvalidOptionError('canManageScope must be a function (caller, scope, request) => boolean (sync or async)')
  }
  const store = resolveStore(options)
  const { maxValueBytes, maxPreferencesPerUser } = store instanceof PreferenceCore ? store.options : store
  return {
    auth: resolveAuth(options.auth),
    store,
    canManageScope: options.canManageScope,
    maxValueBytes,
    maxPreferencesPerUser,
    maxPageSize: positiveInteger('maxPageSize', options.maxPageSize, 1000, 100_000),
    heartbeatSeconds: positiveInteger('heartbeatSeconds', options.heartbeatSeconds, 15, 3600),
    maxStreamsPerUser: positiveInteger('maxStreamsPerUser', options.maxStreamsPerUser, 16, 100_000),
    // JSON escapes (\u0000) can take six bytes per byte of value, percent-encoding three.
    bodyLimit: positiveInteger('bodyLimit', options.bodyLimit, Math.max(1024 * 1024, maxValueBytes * 6 + 16_384)),
    maxImportBytes: positiveInteger('maxImportBytes', options.maxImportBytes, 4 * 1024 * 1024, 1024 * 1024 * 1024),
    rateLimit: resolveRateLimit(options.rateLimit),
    redis: resolveRedis(options.redis, options.redisPrefix)
  }
}
