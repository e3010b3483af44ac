// The plugin's options, as a host writes them. resolve-options.ts checks them at registration.
import type { FastifyRequest } from 'fastify'
import type { PreferenceStore, STORE_CORE } from '../store/preference-store.js'
import type { StoreOptions } from '../store/store-options.js'
import type { PreferencesRedis } from '../store/stream-slots.js'

export type { PreferencesRedis }

export const SYMMETRIC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'
] as const
export type JwtAlgorithm = typeof SYMMETRIC_ALGORITHMS[number] | typeof ASYMMETRIC_ALGORITHMS[number]

/** Who is calling, as far as this plugin cares. */
export interface Caller {
  id: number
  isAdmin: boolean
}

/** Verified token claims. */
export type TokenClaims = Record<string, unknown>

/**
 * Maps verified claims to a caller; return null to reject the token (401).
 * May be async, e.g. to look the user up.
 */
export type CallerMapper = (claims: TokenClaims, request: FastifyRequest) => Caller | null | Promise<Caller | null>

/**
 * The host's own authentication: returns the verified claims of the request's caller (or null
 * when there is none), or throws when the credentials are rejected. Its result goes to
 * `mapCaller`.
 */
export type HostVerifier = (request: FastifyRequest) => TokenClaims | null | undefined | Promise<TokenClaims | null | undefined>

/** `auth.verify: 'host-jwt'`: the host's @fastify/jwt verifies (`request.jwtVerify()`). */
export const HOST_JWT = 'host-jwt'

/** What every form of `auth` may have. */
interface AuthMapping {
  /** Replaces the default mapping (`sub` is the user id; admin by `roles` or `role`). */
  mapCaller?: CallerMapper
}

/** The options of the plugin's own token verification (with `secret` or `publicKey`). */
interface OwnVerification extends AuthMapping {
  /** Accepted algorithms: default ['HS256'] with a secret, ['RS256', 'ES256'] with a public key. */
  algorithms?: JwtAlgorithm[]
  /** Expected `iss`: tokens from anyone else are rejected. */
  issuer?: string | string[]
  /** Expected `aud`. */
  audience?: string | string[]
  /** Accepted clock skew for `exp` and `nbf`, in seconds (default 0). */
  clockToleranceSeconds?: number
}

/** The plugin verifies HS256 (or HS384/HS512 via `algorithms`) tokens with a shared secret. */
export interface SecretAuthOptions extends OwnVerification {
  /** Shared secret for HS256 (or HS384/HS512 via `algorithms`). */
  secret: string | Buffer
  publicKey?: never
  verify?: never
}

/** The plugin verifies RS256, ES256 (and the other asymmetric algorithms) with a public key. */
export interface PublicKeyAuthOptions extends OwnVerification {
  /** PEM public key for RS256, ES256 and the other asymmetric algorithms. */
  publicKey: string | Buffer
  secret?: never
  verify?: never
}

/**
 * The host verifies: the plugin never checks a token itself, so none of its own verification
 * options may be given (the `never` members make that a compile error, as it is a
 * registration error).
 */
export interface HostAuthOptions extends AuthMapping {
  /**
   * `'host-jwt'` uses the @fastify/jwt the host registered before the plugin
   * (`request.jwtVerify()`); a function is the host's own way. Either way `mapCaller` maps the
   * claims to the caller, and a rejection is this plugin's 401.
   */
  verify: typeof HOST_JWT | HostVerifier
  secret?: never
  publicKey?: never
  algorithms?: never
  issuer?: never
  audience?: never
  clockToleranceSeconds?: never
}

/** `auth`: exactly one of `secret`, `publicKey` and `verify`. */
export type PreferencesAuthOptions = SecretAuthOptions | PublicKeyAuthOptions | HostAuthOptions

/** May `caller` write the defaults of `scope`? Admins always may; this lets others too. */
export type CanManageScope = (caller: Caller, scope: string, request: FastifyRequest) => boolean | Promise<boolean>

export interface PreferencesPluginOptions extends StoreOptions {
  auth: PreferencesAuthOptions
  /**
   * A store made with createPreferenceStore(): the plugin then uses its database, registry,
   * groupsOf and limits (so none of those may be given here), and leaves closing it to the host.
   */
  store?: Pick<PreferenceStore, typeof STORE_CORE>
  /** Who besides admins may write a scope's defaults (default: nobody). */
  canManageScope?: CanManageScope
  /** Largest `limit` a list request may ask for (default 1000). */
  maxPageSize?: number
  /** Seconds between the comment lines that keep an event stream open (default 15). */
  heartbeatSeconds?: number
  /**
   * Event streams one user may have open (default 16); beyond, 429. Counted in this process,
   * or across every instance sharing `redis`.
   */
  maxStreamsPerUser?: number
  /** Largest request body in bytes (default: enough for a maximal value in any encoding). */
  bodyLimit?: number
  /** Largest body of an import (POST .../preference/import/), in bytes (default 4 MiB); beyond, 413. */
  maxImportBytes?: number
  /**
   * At most `max` requests per caller (token identity) in `timeWindow` milliseconds; beyond
   * that 429 PREFERENCE_RATE_LIMITED with Retry-After. Default: off.
   */
  rateLimit?: RateLimitOptions | false
  /**
   * An ioredis 5 client (`new Redis(...)`) shared by the instances of a deployment: the rate
   * limit and `maxStreamsPerUser` then count across all of them. The host opens and closes it.
   */
  redis?: PreferencesRedis
  /** Prefix of the plugin's Redis keys (default 'preferences:'); only with `redis`. */
  redisPrefix?: string
}

export interface RateLimitOptions {
  max: number
  /** Milliseconds (default 60000). */
  timeWindow?: number
}
