import fastifyJwt from '@fastify/jwt'
import swagger from '@fastify/swagger'
import { createSigner } from 'fast-jwt'
import Fastify, { type FastifyInstance, type FastifyRequest, type LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import preferences, { type PreferencesAuthOptions, preferencesOpenapi, type TokenClaims } from '../index.js'
import { attachContract } from './contract.js'
import { bearer, freshDatabaseUrl, PREFIX, SECRET, token } from './helper.js'

// A host that already authenticates its users hands that to the plugin (auth.verify): the
// plugin then never verifies a token itself, and the host's mapCaller reads the host's claims.

const HOST_SECRET = 'the-host-application-secret-for-hs256'

/** A token as the host issues it: its own secret, its own claim names. */
function hostToken (claims: Record<string, unknown>, options: { expiresIn?: number, secret?: string } = {}): string {
  return createSigner({ key: options.secret ?? HOST_SECRET, expiresIn: options.expiresIn ?? 3_600_000 })(claims)
}

/** The host's claims ({ uid, staff }) to the plugin's caller. */
const mapCaller = (claims: TokenClaims) =>
  typeof claims.uid === 'number' ? { id: claims.uid, isAdmin: claims.staff === true } : null

async function host (t: Test, auth: PreferencesAuthOptions, setup?: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 'host', version: '1' }, ...preferencesOpenapi } })
  await setup?.(app)
  await app.register(preferences, { prefix: PREFIX, auth, database: await freshDatabaseUrl(t) })
  await app.ready()
  attachContract(app, (problem) => t.fail(`contract: ${problem}`))
  return app
}

const hostJwt = async (app: FastifyInstance) => {
  await app.register(fastifyJwt, { secret: HOST_SECRET })
  app.get('/me', {
    onRequest: async (request) => { await request.jwtVerify() },
    schema: { response: { 200: { type: 'object', properties: { user: { type: 'object', additionalProperties: true } } } } }
  }, async (request) => ({ user: request.user }))
}

function isError (t: Test, res: LightMyRequestResponse, status: number, code: string, what: string): void {
  t.equal(res.statusCode, status, `${what}: ${status}`)
  t.equal(res.json().code, code, `${what}: ${code}`)
  if (status === 401) {
    t.match(res.headers['www-authenticate'], code === 'PREFERENCE_AUTH_REQUIRED' ? /^Bearer realm="preferences"$/ : /^Bearer .*error="invalid_token"/,
      `${what}: WWW-Authenticate`)
  }
}

t.test('auth.verify "host-jwt": the host\'s @fastify/jwt verifies, mapCaller maps', async (t) => {
  const app = await host(t, { verify: 'host-jwt', mapCaller }, hostJwt)
  const as = (tok: string) => (method: 'GET' | 'POST', url: string, payload?: object) =>
    app.inject({ method, url: `${PREFIX}${url}`, headers: bearer(tok), ...(payload !== undefined && { payload }) })
  const user7 = as(hostToken({ uid: 7 }))

  const created = await user7('POST', '/user/me/preference/', { key: 'theme', value: 'dark' })
  t.equal(created.statusCode, 201, 'a host token works on the plugin')
  t.match(created.json(), { user_id: 7, key: 'theme', value: 'dark' })
  t.equal(created.headers.location, `${PREFIX}/user/7/preference/${created.json().id}/`)
  t.equal((await user7('GET', `/user/7/preference/${created.json().id}/`)).statusCode, 200)
  t.same((await app.inject({ url: '/me', headers: bearer(hostToken({ uid: 7 })) })).json().user.uid, 7,
    'the host\'s own route still works with the same token')

  isError(t, await as(hostToken({ uid: 8 }))('GET', '/user/7/preference/'), 403, 'PREFERENCE_FORBIDDEN', 'another user')
  t.equal((await as(hostToken({ uid: 8, staff: true }))('GET', '/user/7/preference/')).statusCode, 200, 'staff is admin by mapCaller')

  isError(t, await app.inject({ url: `${PREFIX}/user/7/preference/` }), 401, 'PREFERENCE_AUTH_REQUIRED', 'no token')
  isError(t, await as(token(7))('GET', '/user/7/preference/'), 401, 'PREFERENCE_AUTH_INVALID', 'signed with another secret')
  isError(t, await as(hostToken({ uid: 7 }, { expiresIn: 1 }))('GET', '/user/7/preference/'), 401, 'PREFERENCE_AUTH_INVALID', 'expired')
  const unmapped = await as(hostToken({ sub: 7 }))('GET', '/user/7/preference/')
  isError(t, unmapped, 401, 'PREFERENCE_AUTH_INVALID', 'claims mapCaller does not map')
  t.equal(unmapped.json().message, 'Invalid token: the token does not identify a user', 'no word of sub, which the host does not use')
  isError(t, await app.inject({ url: `${PREFIX}/user/7/preference/`, headers: { authorization: 'Bearer' } }), 401,
    'PREFERENCE_AUTH_INVALID', 'a malformed header')
  const expired = await as(hostToken({ uid: 7 }, { expiresIn: 1 }))('GET', '/user/7/preference/')
  t.match(expired.json().message, /expired/)
  t.notMatch(expired.json().message, /FST_JWT/, 'in the plugin\'s words, not the host\'s')
})

t.test('auth.verify as a function: the host\'s own way (an API key here), default mapping', async (t) => {
  const keys = new Map([['key-of-3', { sub: '3' }], ['key-of-admin', { sub: 1, roles: ['admin'] }]])
  const seen: FastifyRequest[] = []
  const verify = async (request: FastifyRequest) => {
    seen.push(request)
    const key = request.headers['x-api-key']
    if (key === 'down') throw Object.assign(new Error('the user directory is down'), { statusCode: 503 })
    if (typeof key !== 'string') return null
    const claims = keys.get(key)
    if (claims === undefined) throw new Error('unknown key')
    return claims
  }
  const app = await host(t, { verify })
  const withKey = (key: string, url = '/user/3/preference/') => app.inject({ url: `${PREFIX}${url}`, headers: { 'x-api-key': key } })

  t.equal((await withKey('key-of-3')).statusCode, 200, 'the default mapCaller reads the host\'s claims (sub)')
  t.equal(seen.length, 1, 'the verifier got the request')
  t.equal((await withKey('key-of-admin', '/user/3/preference/')).statusCode, 200, 'an admin by roles')
  isError(t, await withKey('key-of-3', '/user/4/preference/'), 403, 'PREFERENCE_FORBIDDEN', 'another user')
  isError(t, await app.inject({ url: `${PREFIX}/user/3/preference/` }), 401, 'PREFERENCE_AUTH_REQUIRED', 'no credentials (null)')
  isError(t, await withKey('stolen'), 401, 'PREFERENCE_AUTH_REQUIRED', 'rejected, and no Authorization header')
  isError(t, await app.inject({ url: `${PREFIX}/user/3/preference/`, headers: bearer('a.b.c') }), 401,
    'PREFERENCE_AUTH_INVALID', 'rejected, with an Authorization header the host did not accept')

  const down = await withKey('down')
  t.equal(down.statusCode, 500, 'a server error of the host\'s verifier is not a 401')
  t.equal(down.json().code, 'PREFERENCE_INTERNAL_ERROR')
  t.notMatch(down.payload, /directory/, 'its detail stays in the log')
})

t.test('auth.verify: wrong combinations fail registration with PREFERENCE_INVALID_OPTION', async (t) => {
  const fails = async (what: string, auth: Record<string, unknown>, message: RegExp, setup?: (app: FastifyInstance) => Promise<void>) => {
    const app = Fastify({ logger: false })
    t.after(() => app.close())
    await setup?.(app)
    await t.rejects(async () => {
      await app.register(preferences, { prefix: PREFIX, auth: auth as unknown as PreferencesAuthOptions, database: ':memory:' })
      await app.ready()
    }, { code: 'PREFERENCE_INVALID_OPTION', message }, what)
  }
  await fails('verify with a secret', { verify: 'host-jwt', secret: SECRET }, /auth\.verify .*auth\.secret/)
  await fails('verify with a publicKey and issuer', { verify: () => ({}), publicKey: 'k', issuer: 'i' }, /auth\.publicKey, auth\.issuer/)
  await fails('verify with algorithms', { verify: 'host-jwt', algorithms: ['HS256'] }, /auth\.algorithms/)
  await fails('verify with clockToleranceSeconds', { verify: 'host-jwt', clockToleranceSeconds: 5 }, /auth\.clockToleranceSeconds/)
  await fails('an unknown verify', { verify: 'jwt' }, /auth\.verify must be "host-jwt" .* got "jwt"/)
  await fails('a verify that is not a function', { verify: 42 }, /auth\.verify must be/)
  await fails('verify with a mapCaller that is not a function', { verify: 'host-jwt', mapCaller: 'uid' }, /auth\.mapCaller/)
  await fails('host-jwt without @fastify/jwt', { verify: 'host-jwt' }, /@fastify\/jwt registered by the host before this plugin/)
  await fails('nothing at all', {}, /secret.*publicKey.*verify/)

  // @fastify/jwt registered after the plugin is not visible to it.
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  app.register(preferences, { prefix: PREFIX, auth: { verify: 'host-jwt' }, database: ':memory:' })
  app.register(fastifyJwt, { secret: HOST_SECRET })
  await t.rejects(async () => { await app.ready() }, { code: 'PREFERENCE_INVALID_OPTION', message: /before this plugin/ }, 'host-jwt registered after')
})

t.test('host-jwt reading a cookie: an expired one, with no Authorization header, is a bad token', async (t) => {
  // What @fastify/cookie gives @fastify/jwt: request.cookies, parsed from the Cookie header.
  const cookieJwt = async (app: FastifyInstance) => {
    app.decorateRequest('cookies', null)
    app.addHook('onRequest', async (request) => {
      const pairs = String(request.headers.cookie ?? '').split(/; */).filter((pair) => pair.includes('='))
      ;(request as FastifyRequest & { cookies: Record<string, string> }).cookies =
        Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
    })
    await app.register(fastifyJwt, { secret: HOST_SECRET, cookie: { cookieName: 'session', signed: false } })
  }
  const app = await host(t, { verify: 'host-jwt', mapCaller }, cookieJwt)
  const withCookie = (cookie?: string) =>
    app.inject({ url: `${PREFIX}/user/7/preference/`, headers: cookie === undefined ? {} : { cookie } })

  t.equal((await withCookie(`session=${hostToken({ uid: 7 })}`)).statusCode, 200, 'a valid cookie')
  const expired = await withCookie(`session=${hostToken({ uid: 7 }, { expiresIn: 1 })}`)
  isError(t, expired, 401, 'PREFERENCE_AUTH_INVALID', 'an expired cookie')
  t.equal(expired.headers['www-authenticate'], 'Bearer realm="preferences", error="invalid_token"')
  t.equal(expired.json().message, 'Invalid token: the token has expired')
  isError(t, await withCookie(), 401, 'PREFERENCE_AUTH_REQUIRED', 'no cookie, no header: no credentials')
  isError(t, await withCookie('other=1'), 401, 'PREFERENCE_AUTH_REQUIRED', 'another cookie only')
})

t.test('a mapCaller error with a 4xx statusCode keeps its status; nothing is written', async (t) => {
  const thrown: Record<string, Error> = {
    400: Object.assign(new Error('the uid claim is malformed'), { statusCode: 400 }),
    'coded 400': Object.assign(new Error('no such tenant'), { statusCode: 400, code: 'HOST_NO_TENANT' }),
    401: Object.assign(new Error('the session was revoked'), { statusCode: 401 }),
    403: Object.assign(new Error('the account is locked'), { statusCode: 403 }),
    429: Object.assign(new Error('slow down'), { statusCode: 429 })
  }
  const app = await host(t, {
    secret: HOST_SECRET,
    mapCaller: (claims) => {
      const error = thrown[String(claims.fail)]
      if (error !== undefined) throw error
      return mapCaller(claims)
    }
  })
  const as = (fail: string) => app.inject({
    method: 'POST',
    url: `${PREFIX}/user/me/preference/`,
    headers: bearer(hostToken({ uid: 7, fail })),
    payload: { key: 'k', value: 1 }
  })
  const expect = (res: LightMyRequestResponse, body: object, what: string) => {
    t.same(res.json(), body, what)
    t.equal(res.statusCode, (body as { statusCode: number }).statusCode, `${what}: status`)
  }
  expect(await as('400'), { statusCode: 400, code: 'PREFERENCE_REQUEST_REJECTED', error: 'Bad Request', message: 'the uid claim is malformed' },
    'a 400 without a code stays a 400, with the host\'s message')
  expect(await as('coded 400'), { statusCode: 400, code: 'HOST_NO_TENANT', error: 'Bad Request', message: 'no such tenant' },
    'a 400 with the host\'s code keeps it')
  const revoked = await as('401')
  expect(revoked, { statusCode: 401, code: 'PREFERENCE_AUTH_INVALID', error: 'Unauthorized', message: 'Invalid token: the session was revoked' }, 'a 401')
  t.equal(revoked.headers['www-authenticate'], 'Bearer realm="preferences", error="invalid_token"')
  expect(await as('403'), { statusCode: 403, code: 'PREFERENCE_FORBIDDEN', error: 'Forbidden', message: 'the account is locked' }, 'a 403')
  expect(await as('429'), { statusCode: 429, code: 'PREFERENCE_REQUEST_REJECTED', error: 'Too Many Requests', message: 'slow down' }, 'a 429')
  const ok = await as('none')
  t.equal(ok.statusCode, 201, 'the same token without a failure')
  t.same((await app.inject({ url: `${PREFIX}/user/7/preference/`, headers: bearer(hostToken({ uid: 7 })) })).json().count, 1,
    'only that one was written')
})
