import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { createVerifier } from 'fast-jwt'
import {
  AuthInvalidError, AuthRequiredError, ForbiddenError, InvalidOptionError, InvalidPathParameterError
} from '../errors.js'
import { keyProblem } from '../schemas/preference.js'
import {
  type Caller, HOST_JWT, type HostVerifier, type ResolvedAuthOptions, type ResolvedHostAuthOptions,
  type ResolvedTokenAuthOptions, type TokenClaims
} from './options.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (set by the preferences plugin's onRequest hook). */
    preferencesCaller: Caller | null
    /** The `{user_id}` of the path with `me` resolved, once authorised. */
    preferencesUserId: number
    /** The `{id}` of the path, on routes that have one. */
    preferenceId: number
    /** The `{key}` of the path (percent-decoded), on the by-key routes. */
    preferenceKey: string
  }
}

const MAX_TOKEN_LENGTH = 8192
const BEARER = /^Bearer +([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*) *$/i
const DIGITS = /^[1-9][0-9]*$/

/** A positive safe integer from a number or a decimal string, else null. */
export function parsePositiveId (value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : null
  if (typeof value !== 'string' || !DIGITS.test(value)) return null
  const id = Number(value)
  return Number.isSafeInteger(id) ? id : null
}

/** The spec's default: `sub` is the user id; admin when `roles` has "admin" or `role` is "admin". */
export function defaultMapCaller (claims: TokenClaims): Caller | null {
  const id = parsePositiveId(claims.sub)
  if (id === null) return null
  const roles = claims.roles
  const isAdmin = (Array.isArray(roles) && roles.includes('admin')) || claims.role === 'admin'
  return { id, isAdmin }
}

const TOKEN_ERRORS: Record<string, string> = {
  FAST_JWT_EXPIRED: 'the token has expired',
  FAST_JWT_INACTIVE: 'the token is not valid yet (nbf)',
  FAST_JWT_INVALID_SIGNATURE: 'the signature does not verify',
  FAST_JWT_MISSING_SIGNATURE: 'unsigned tokens are not accepted',
  FAST_JWT_INVALID_ALGORITHM: 'the token\'s algorithm is not accepted',
  FAST_JWT_INVALID_CLAIM_VALUE: 'a claim (iss, aud, ...) has a value that is not accepted',
  FAST_JWT_MISSING_REQUIRED_CLAIM: 'a required claim is missing',
  FAST_JWT_INVALID_CLAIM_TYPE: 'a claim has the wrong type',
  FAST_JWT_MALFORMED: 'the token is malformed',
  FAST_JWT_INVALID_TYPE: 'the token is malformed'
}

function tokenErrorMessage (error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  return (typeof code === 'string' && TOKEN_ERRORS[code]) || 'the token could not be verified'
}

function isValidCaller (caller: unknown): caller is Caller {
  const c = caller as Caller | null
  return c !== null && typeof c === 'object' && parsePositiveId(c.id) === c.id && typeof c.isAdmin === 'boolean'
}

function pathId (name: string, value: string | undefined, caller: Caller): number {
  if (name === 'user_id' && value === 'me') return caller.id
  const id = parsePositiveId(value)
  if (id === null) {
    throw new InvalidPathParameterError(name === 'user_id'
      ? `{user_id} must be a positive integer (no sign or leading zeros) or "me", got "${String(value).slice(0, 64)}"`
      : `{${name}} must be a positive integer (no sign or leading zeros), got "${String(value).slice(0, 64)}"`)
  }
  return id
}

/**
 * The verifier @fastify/jwt itself is built on (fast-jwt), made once per registration.
 * Registering @fastify/jwt here would decorate the host's `fastify.jwt` (or collide with
 * it), so two mounts of this plugin, or a host with its own @fastify/jwt, could not coexist.
 */
export function createTokenVerifier (options: ResolvedTokenAuthOptions): (token: string) => TokenClaims {
  return createVerifier({
    key: options.key,
    algorithms: options.algorithms,
    allowedIss: options.issuer,
    allowedAud: options.audience,
    clockTolerance: options.clockToleranceMs,
    // fast-jwt checks iss/aud only when present: a configured one must also be required.
    requiredClaims: [
      ...(options.issuer !== undefined ? ['iss'] : []),
      ...(options.audience !== undefined ? ['aud'] : [])
    ],
    // Verified tokens are cached by hash (bounded; an entry never outlives the token's exp).
    cache: true
  }) as (token: string) => TokenClaims
}

function pathKey (value: string): string {
  const problem = keyProblem(value)
  if (problem !== undefined) {
    throw new InvalidPathParameterError(`{key} ${problem}, got ${JSON.stringify(value.slice(0, 64))}`)
  }
  return value
}

/** Finds the caller's verified claims (now, or later for a host's verify), or throws this plugin's 401. */
type Authenticate = (request: FastifyRequest) => unknown

/** The plugin's own verification: a Bearer JWT checked with the configured key. */
function tokenAuthentication (options: ResolvedTokenAuthOptions): Authenticate {
  const verify = createTokenVerifier(options)
  return (request) => {
    const header = request.headers.authorization
    if (header === undefined || !/^bearer\b/i.test(header)) throw new AuthRequiredError()
    const match = header.length <= MAX_TOKEN_LENGTH ? BEARER.exec(header) : null
    if (match === null) throw new AuthInvalidError('expected "Authorization: Bearer <JWT>"')
    try {
      return verify(match[1])
    } catch (error) {
      throw new AuthInvalidError(tokenErrorMessage(error))
    }
  }
}

// What the host's @fastify/jwt rejects, in this plugin's words.
const HOST_JWT_ERRORS: Record<string, string> = {
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: 'the token has expired',
  FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED: 'the token is not trusted',
  FST_JWT_AUTHORIZATION_TOKEN_INVALID: 'the token could not be verified',
  FAST_JWT_MISSING_SIGNATURE: 'unsigned tokens are not accepted',
  FST_JWT_BAD_REQUEST: 'expected "Authorization: Bearer <JWT>"',
  FST_JWT_BAD_COOKIE_REQUEST: 'the token cookie is malformed'
}
/**
 * The host verifies (auth.verify). Whatever it throws becomes this plugin's 401 (with its
 * codes and WWW-Authenticate), except a server error (statusCode >= 500), which stays one.
 */
function hostAuthentication (fastify: FastifyInstance, options: ResolvedHostAuthOptions): Authenticate {
  let verify: HostVerifier
  if (options.verify === HOST_JWT) {
    // Decorators are inherited at registration: the host's @fastify/jwt must come first.
    if (!fastify.hasRequestDecorator('jwtVerify')) {
      throw new InvalidOptionError(`auth.verify "${HOST_JWT}" needs @fastify/jwt registered by the host before this plugin (request.jwtVerify() is missing)`)
    }
    verify = async (request) => (request as unknown as { jwtVerify: () => Promise<TokenClaims> }).jwtVerify()
  } else {
    verify = options.verify
  }
  return async (request) => {
    let claims: unknown
    try {
      claims = await verify(request)
    } catch (error) {
      const { code, statusCode } = (error ?? {}) as { code?: unknown, statusCode?: unknown }
      if (typeof statusCode === 'number' && statusCode >= 500) throw error
      request.log.debug({ code }, 'preferences: the host rejected the credentials')
      const known = typeof code === 'string' ? HOST_JWT_ERRORS[code] : undefined
      // Without an Authorization header, only a rejection the host explains (an expired
      // cookie, say) is a bad token; anything else means no credentials were given.
      if (request.headers.authorization === undefined && known === undefined) throw new AuthRequiredError()
      throw new AuthInvalidError(known ?? 'the credentials were not accepted')
    }
    if (claims === null || claims === undefined) {
      if (request.headers.authorization === undefined) throw new AuthRequiredError()
      throw new AuthInvalidError('the credentials were not accepted')
    }
    return claims
  }
}

async function authPlugin (fastify: FastifyInstance, options: ResolvedAuthOptions): Promise<void> {
  const authenticate = options.verify === undefined ? tokenAuthentication(options) : hostAuthentication(fastify, options)
  const mapCaller = options.mapCaller ?? defaultMapCaller

  fastify.decorateRequest('preferencesCaller', null)
  fastify.decorateRequest('preferencesUserId', 0)
  fastify.decorateRequest('preferenceId', 0)
  fastify.decorateRequest('preferenceKey', '')

  /** Checks the caller against the path, and records both on the request. */
  function admit (request: FastifyRequest, caller: unknown): void {
    if (!isValidCaller(caller)) {
      throw new AuthInvalidError('the token does not identify a user (sub must be a positive integer)')
    }
    request.preferencesCaller = caller
    const params = request.params as { user_id?: string, id?: string, key?: string }
    const userId = pathId('user_id', params.user_id, caller)
    if (params.id !== undefined) request.preferenceId = pathId('id', params.id, caller)
    if (params.key !== undefined) request.preferenceKey = pathKey(params.key)
    if (userId !== caller.id && !caller.isAdmin) throw new ForbiddenError()
    request.preferencesUserId = userId
  }

  /** admit(), then done() with its error or none. */
  function admitted (request: FastifyRequest, caller: unknown, done: HookDone): void {
    try {
      admit(request, caller)
    } catch (error) {
      done(asError(error))
      return
    }
    // done() outside the try: it runs the rest of the request, whose errors are not ours.
    done()
  }

  function identify (request: FastifyRequest, claims: unknown, done: HookDone): void {
    let caller: unknown
    try {
      if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
        throw new AuthInvalidError('the token payload is not a JSON object')
      }
      caller = mapCaller(claims as TokenClaims, request)
    } catch (error) {
      done(asError(error))
      return
    }
    if (isThenable(caller)) caller.then((value) => { admitted(request, value, done) }, (error) => { done(asError(error)) })
    else admitted(request, caller, done)
  }

  // Order is the contract: 401 (token), then 400 (path parameters), then 403, all before
  // the body is read. A callback hook: with the plugin's own token check all of it is
  // synchronous, and an async hook would cost promises on every request.
  fastify.addHook('onRequest', (request, _reply, done) => {
    let claims: unknown
    try {
      claims = authenticate(request)
    } catch (error) {
      done(asError(error))
      return
    }
    if (isThenable(claims)) claims.then((value) => { identify(request, value, done) }, (error) => { done(asError(error)) })
    else identify(request, claims, done)
  })
}

type HookDone = (error?: Error) => void

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function'

/** What a host's verify or mapCaller threw or rejected with, as an Error (a 500 unless it says otherwise). */
const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(`preferences: authentication failed with a non-Error value (${typeof error})`)

export default fp(authPlugin, { name: 'preferences-auth', fastify: '5.x' })
