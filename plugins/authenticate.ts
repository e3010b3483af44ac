/// <reference path="./fastify-internal.d.ts" />
import fastifyJwt, { type JWT } from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { parsePositiveId } from '../lib/positive-id.js'
import {
  type Caller, type CallerMapper, HOST_JWT, type HostVerifier, type TokenClaims
} from '../options/plugin-options.js'
import type { ResolvedAuthOptions, ResolvedHostAuthOptions, ResolvedTokenAuthOptions } from '../options/resolve-options.js'
import { AuthInvalidError, AuthRequiredError, InvalidOptionError } from '../schemas/errors.js'

const MAX_TOKEN_LENGTH = 8192
const BEARER = /^Bearer +([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*) *$/i
const JWT_SHAPE = /^[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*$/

/** The spec's default: `sub` is the user id; admin when `roles` has "admin" or `role` is "admin". */
export function defaultMapCaller (claims: TokenClaims): Caller | null {
  const id = parsePositiveId(claims.sub)
  if (id === null) return null
  const roles = claims.roles
  const isAdmin = (Array.isArray(roles) && roles.includes('admin')) || claims.role === 'admin'
  return { id, isAdmin }
}

// What fast-jwt (under @fastify/jwt) rejects, in this plugin's words.
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

// The namespace of the plugin's own @fastify/jwt, inside a context of its own (see below).
const JWT_NAMESPACE = 'userPreferences'

/**
 * The plugin's own @fastify/jwt, made once per registration. It is registered in a child
 * context where `jwt` is first decorated afresh: with its `namespace` option @fastify/jwt then
 * adds itself to that object, never to the host's `fastify.jwt`, and decorates requests only
 * there. So a host with its own @fastify/jwt, and two mounts of this plugin, coexist.
 */
async function ownJwt (fastify: FastifyInstance, options: ResolvedTokenAuthOptions): Promise<JWT> {
  let jwt: JWT | undefined
  await fastify.register(async (scope) => {
    scope.decorate('jwt', Object.create(null) as FastifyInstance['jwt'])
    await scope.register(fastifyJwt, {
      // A public key only verifies: no signer is made for it.
      secret: options.kind === 'secret' ? options.key : { public: options.key },
      namespace: JWT_NAMESPACE,
      verify: {
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
      }
    })
    jwt = (scope.jwt as unknown as Record<string, JWT>)[JWT_NAMESPACE]
  })
  if (jwt === undefined) throw new Error('preferences: @fastify/jwt did not register')
  return jwt
}

/** Finds the caller's verified claims (now, or later for a host's verify), or throws this plugin's 401. */
type Authenticate = (request: FastifyRequest) => unknown

/** The plugin's own verification: a Bearer JWT checked by its @fastify/jwt. */
async function tokenAuthentication (fastify: FastifyInstance, options: ResolvedTokenAuthOptions): Promise<Authenticate> {
  const jwt = await ownJwt(fastify, options)
  return (request) => {
    const header = request.headers.authorization
    if (header === undefined && request.routeOptions.config?.preferencesQueryToken === true) {
      const token = (request.query as { access_token?: unknown }).access_token
      if (typeof token === 'string') return verifyToken(jwt, token)
    }
    if (header === undefined || !/^bearer\b/i.test(header)) throw new AuthRequiredError()
    const match = header.length <= MAX_TOKEN_LENGTH ? BEARER.exec(header) : null
    if (match === null) throw new AuthInvalidError('expected "Authorization: Bearer <JWT>"')
    return verifyToken(jwt, match[1])
  }
}

function verifyToken (jwt: JWT, token: string): TokenClaims {
  if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) throw new AuthInvalidError('the token is malformed')
  try {
    return jwt.verify<TokenClaims>(token)
  } catch (error) {
    throw new AuthInvalidError(tokenErrorMessage(error))
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
    verify = async (request) => request.jwtVerify<TokenClaims>()
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

function isValidCaller (caller: unknown): caller is Caller {
  const c = caller as Caller | null
  return c !== null && typeof c === 'object' && parsePositiveId(c.id) === c.id && typeof c.isAdmin === 'boolean'
}

type HookDone = (error?: Error) => void

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function'

/** What a host's verify or mapCaller threw or rejected with, as an Error (a 500 unless it says otherwise). */
const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(`preferences: authentication failed with a non-Error value (${typeof error})`)

/**
 * Runs `step` on `input`, then `next` on its result, which may come later (a host's verify or
 * mapCaller may be async); a throw or a rejection ends the hook with that error.
 */
function chain (step: () => unknown, next: (value: unknown) => void, done: HookDone): void {
  let value: unknown
  try {
    value = step()
  } catch (error) {
    done(asError(error))
    return
  }
  if (isThenable(value)) value.then(next, (error) => { done(asError(error)) })
  else next(value)
}

/**
 * Who is calling: verifies the credentials (401 when missing or bad) and maps them to the
 * caller, before anything else happens to the request.
 */
async function authenticatePlugin (fastify: FastifyInstance, options: ResolvedAuthOptions): Promise<void> {
  const authenticate = options.verify === undefined
    ? await tokenAuthentication(fastify, options)
    : hostAuthentication(fastify, options)
  const mapCaller: CallerMapper = options.mapCaller ?? defaultMapCaller
  const notAUser = options.mapCaller === undefined
    ? 'the token does not identify a user (sub must be a positive integer)'
    : 'the token does not identify a user'

  fastify.decorateRequest('preferencesCaller', null)
  fastify.decorateRequest('preferencesClaims', null)

  // A callback hook: with the plugin's own token check all of it is synchronous, and an
  // async hook would cost promises on every request.
  fastify.addHook('onRequest', (request, _reply, done) => {
    chain(() => authenticate(request), (claims) => {
      chain(() => {
        if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
          throw new AuthInvalidError('the token payload is not a JSON object')
        }
        request.preferencesClaims = claims as TokenClaims
        return mapCaller(claims as TokenClaims, request)
      }, (caller) => {
        if (!isValidCaller(caller)) {
          done(new AuthInvalidError(notAUser))
          return
        }
        request.preferencesCaller = caller
        done()
      }, done)
    }, done)
  })
}

export default fp(authenticatePlugin, { name: 'preferences-authenticate', fastify: '5.x' })
