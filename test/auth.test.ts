import { createHmac, generateKeyPairSync } from 'node:crypto'
import type { SignerOptions } from 'fast-jwt'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { CallerMapper } from '../options/plugin-options.js'
import { adminToken, bearer, build, client, PREFIX, SECRET, token } from './helper.js'

// Every behaviour of "Who may do what" in SPEC.md, through app.inject.

const ISSUER = 'https://issuer.test'
const AUDIENCE = 'prefs'

const nowSeconds = (): number => Math.floor(Date.now() / 1000)
const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** An HS256 token for `sub` with an explicit `exp` (and no expiresIn from the helper). */
const tokenWithClaims = (claims: Record<string, unknown>, sub: unknown = 1): string =>
  token({ sub, claims, signer: { expiresIn: undefined } })

type Method = InjectOptions['method']

async function send (
  app: FastifyInstance, method: Method, path: string, headers: Record<string, string> = {}, payload?: string
): Promise<LightMyRequestResponse> {
  return app.inject({ method, url: `${PREFIX}${path}`, headers, ...(payload !== undefined && { payload }) })
}

function isError (t: Test, res: LightMyRequestResponse, status: number, code: string, what: string): void {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  const body = res.json()
  t.equal(body.code, code, `${what}: code ${code}`)
  t.equal(body.statusCode, status, `${what}: body statusCode`)
  t.type(body.error, 'string', `${what}: body error`)
  t.type(body.message, 'string', `${what}: body message`)
  t.notMatch(res.body, /\bat .+:\d+:\d+/, `${what}: no stack trace`)
}

/** 401 for a missing token: `WWW-Authenticate: Bearer ...` without an error. */
function isAuthRequired (t: Test, res: LightMyRequestResponse, what: string): void {
  isError(t, res, 401, 'PREFERENCE_AUTH_REQUIRED', what)
  const header = String(res.headers['www-authenticate'] ?? '')
  t.match(header, /^Bearer(\s|$)/, `${what}: WWW-Authenticate starts with Bearer`)
  t.notMatch(header, /error=/, `${what}: WWW-Authenticate has no error`)
}

/** 401 for a token that was sent but rejected: `error="invalid_token"`. */
function isAuthInvalid (t: Test, res: LightMyRequestResponse, what: string): void {
  isError(t, res, 401, 'PREFERENCE_AUTH_INVALID', what)
  const header = String(res.headers['www-authenticate'] ?? '')
  t.match(header, /^Bearer(\s|$)/, `${what}: WWW-Authenticate starts with Bearer`)
  t.ok(header.includes('error="invalid_token"'), `${what}: WWW-Authenticate has error="invalid_token"`)
}

const json = (body: unknown) => ({ 'content-type': 'application/json', payload: JSON.stringify(body) })

t.test('no Authorization header: 401 PREFERENCE_AUTH_REQUIRED, WWW-Authenticate: Bearer, nothing written', async (t) => {
  const { app, rows } = await build(t)
  const created = await client(app, token(1)).create('k', 1, 1)
  t.equal(created.statusCode, 201)
  const id = created.json().id
  const before = await rows()

  isAuthRequired(t, await send(app, 'GET', '/user/1/preference/'), 'GET list')
  isAuthRequired(t, await send(app, 'GET', '/user/me/preference/'), 'GET list as me')
  isAuthRequired(t, await send(app, 'GET', `/user/1/preference/${id}/`), 'GET item')
  isAuthRequired(t, await send(app, 'GET', `/user/1/preference/${id}`), 'GET item without slash')
  const { payload } = json({ key: 'new', value: 2 })
  const ct = { 'content-type': 'application/json' }
  isAuthRequired(t, await send(app, 'POST', '/user/1/preference/', ct, payload), 'POST')
  isAuthRequired(t, await send(app, 'PATCH', `/user/1/preference/${id}/`, ct, JSON.stringify({ value: 9 })), 'PATCH')
  isAuthRequired(t, await send(app, 'PUT', `/user/1/preference/${id}/`, ct, payload), 'PUT')
  isAuthRequired(t, await send(app, 'DELETE', `/user/1/preference/${id}/`), 'DELETE')
  t.same(await rows(), before, 'the database is unchanged')

  const res = await send(app, 'GET', '/user/1/preference/')
  t.equal(res.json().error, 'Unauthorized')
  t.match(res.headers['content-type'], /^application\/json/)
})

t.test('a scheme other than Bearer is not a token: 401', async (t) => {
  const { app, rows } = await build(t)
  const good = token(1)
  const headers = [
    `Basic ${Buffer.from('user:pass').toString('base64')}`,
    `Basic ${good}`,
    `Token ${good}`,
    `JWT ${good}`,
    `Bearer${good}`,
    good
  ]
  for (const authorization of headers) {
    const what = `Authorization: ${authorization.slice(0, 12)}...`
    isAuthRequired(t, await send(app, 'GET', '/user/1/preference/', { authorization }), what)
    const post = await send(app, 'POST', '/user/1/preference/', { authorization, ...{ 'content-type': 'application/json' } },
      JSON.stringify({ key: 'k', value: 1 }))
    isAuthRequired(t, post, `${what} POST`)
  }
  t.same(await rows(), [], 'nothing was written')
  t.equal((await send(app, 'GET', '/user/1/preference/', bearer(good))).statusCode, 200, 'the same token as Bearer works')
})

t.test('the scheme is case-insensitive: bearer, BEARER and BeArEr are Bearer', async (t) => {
  const { app, rows } = await build(t)
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
    const authorization = `${scheme} ${token(1)}`
    const created = await send(app, 'POST', '/user/1/preference/', { authorization, 'content-type': 'application/json' },
      JSON.stringify({ key: scheme, value: 1 }))
    t.equal(created.statusCode, 201, `${scheme}: accepted`)
    t.equal((await send(app, 'GET', `/user/me/preference/${created.json().id}/`, { authorization })).statusCode, 200)
  }
  t.same((await rows()).map((r) => [r.user_id, r.key]), [[1, 'bearer'], [1, 'BEARER'], [1, 'BeArEr']])
})

t.test('an Authorization header of exactly 8192 characters is read; one more is a 401 unread', async (t) => {
  const { app, rows } = await build(t)
  const long = token({ sub: 1, claims: { pad: 'x'.repeat(6000) } })
  // Spaces after the scheme are allowed, and bring the header to any length wanted.
  const header = (length: number) => `Bearer${' '.repeat(length - 'Bearer'.length - long.length)}${long}`
  t.equal(header(8192).length, 8192)
  const at = await send(app, 'POST', '/user/1/preference/', { authorization: header(8192), 'content-type': 'application/json' },
    JSON.stringify({ key: 'k', value: 1 }))
  t.equal(at.statusCode, 201, '8192 characters: the token is verified and accepted')
  const over = await send(app, 'POST', '/user/1/preference/', { authorization: header(8193), 'content-type': 'application/json' },
    JSON.stringify({ key: 'k2', value: 1 }))
  isAuthInvalid(t, over, '8193 characters')
  t.equal(over.json().message, 'Invalid token: expected "Authorization: Bearer <JWT>"', 'refused before verification')
  t.same((await rows()).map((r) => r.key), ['k'])
})

t.test('Bearer with garbage, nothing or junk: 401 PREFERENCE_AUTH_INVALID, error="invalid_token"', async (t) => {
  const { app, rows } = await build(t)
  const good = token(1)
  const [h, p] = good.split('.')
  const cases: Array<[string, string]> = [
    ['garbage', 'Bearer garbage'],
    ['empty', 'Bearer '],
    ['scheme only', 'Bearer'],
    ['three-part junk', 'Bearer aaa.bbb.ccc'],
    ['three-part base64url of non-JSON', `Bearer ${b64url('not json')}.${b64url('nope')}.${b64url('sig')}`],
    ['two parts', `Bearer ${h}.${p}`],
    ['four parts', `Bearer ${good}.xyz`],
    ['header as payload', `Bearer ${h}.${h}.${good.split('.')[2]}`],
    ['two tokens', `Bearer ${good} ${good}`],
    ['characters outside base64url', `Bearer ${good.slice(0, -2)}+/`],
    ['JSON array payload', `Bearer ${h}.${b64url([1])}.${good.split('.')[2]}`],
    ['very long', `Bearer ${h}.${'A'.repeat(10_000)}.${good.split('.')[2]}`]
  ]
  for (const [what, authorization] of cases) {
    isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', { authorization }), what)
    isAuthInvalid(t, await send(app, 'POST', '/user/1/preference/', { authorization, 'content-type': 'application/json' },
      JSON.stringify({ key: 'k', value: 1 })), `${what} (POST)`)
  }
  t.same(await rows(), [], 'nothing was written')
})

t.test('exp and nbf are honoured', async (t) => {
  const { app, rows } = await build(t)
  const now = nowSeconds()
  const expired = tokenWithClaims({ exp: now - 60 })
  isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', bearer(expired)), 'expired a minute ago')
  isAuthInvalid(t, await client(app, expired).create('k', 1, 1), 'expired token cannot create')
  isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', bearer(tokenWithClaims({ exp: now - 1 }))),
    'expired a second ago (no default tolerance)')
  const early = tokenWithClaims({ exp: now + 3600, nbf: now + 600 })
  isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', bearer(early)), 'nbf ten minutes ahead')
  isAuthInvalid(t, await client(app, early).create('k', 1, 1), 'not-yet-valid token cannot create')
  t.same(await rows(), [], 'nothing was written')

  const fine = tokenWithClaims({ exp: now + 3600, nbf: now - 10 })
  t.equal((await send(app, 'GET', '/user/1/preference/', bearer(fine))).statusCode, 200, 'a current token works')
  const noExp = tokenWithClaims({})
  t.equal((await send(app, 'GET', '/user/1/preference/', bearer(noExp))).statusCode, 200, 'exp is optional')
})

t.test('a wrong signature, a tampered payload or alg "none": 401', async (t) => {
  const { app, rows } = await build(t)
  const before = await rows()
  const otherSecret = token({ sub: 1, secret: 'another-secret-that-is-long-enough-for-hs256' })
  isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', bearer(otherSecret)), 'signed with another secret')
  isAuthInvalid(t, await client(app, otherSecret).create('k', 1, 1), 'another secret cannot create')

  // Take a good token of user 1 and rewrite its payload into user 2, an admin; keep the signature.
  const [header, payload, signature] = token(1).split('.')
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  t.equal(claims.sub, 1)
  const tampered = `${header}.${b64url({ ...claims, sub: 2, roles: ['admin'] })}.${signature}`
  isAuthInvalid(t, await send(app, 'GET', '/user/2/preference/', bearer(tampered)), 'tampered payload')
  isAuthInvalid(t, await client(app, tampered).create('k', 1, 3), 'tampered payload cannot create')
  const reencoded = `${header}.${b64url({ ...claims })}x.${signature}`
  isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', bearer(reencoded)), 'payload with an extra character')

  const unsignedClaims = { sub: 1, roles: ['admin'], exp: nowSeconds() + 3600 }
  for (const alg of ['none', 'None', 'NONE']) {
    const unsigned = `${b64url({ alg, typ: 'JWT' })}.${b64url(unsignedClaims)}.`
    isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', bearer(unsigned)), `alg ${alg}`)
    isAuthInvalid(t, await client(app, unsigned).create('k', 1, 5), `alg ${alg} cannot create`)
    const withSig = `${b64url({ alg, typ: 'JWT' })}.${b64url(unsignedClaims)}.${signature}`
    isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', bearer(withSig)), `alg ${alg} with a signature`)
  }
  const noneWithoutTyp = `${b64url({ alg: 'none' })}.${b64url(unsignedClaims)}.`
  isAuthInvalid(t, await send(app, 'GET', '/user/1/preference/', bearer(noneWithoutTyp)), 'alg none without typ')
  t.same(await rows(), before, 'nothing was written')
})

t.test('a sub that is not a positive integer is a bad token: 401', async (t) => {
  const { app, rows } = await build(t)
  const subs: Array<[string, unknown]> = [
    ['missing', undefined],
    ['0', 0],
    ['-1', -1],
    ['"0"', '0'],
    ['"01"', '01'],
    ['"-1"', '-1'],
    ['"+1"', '+1'],
    ['"abc"', 'abc'],
    ['1.5', 1.5],
    ['"1.5"', '1.5'],
    ['"1.0"', '1.0'],
    ['"1e3"', '1e3'],
    ['" 7"', ' 7'],
    ['""', ''],
    ['2^53 + 2', 2 ** 53 + 2],
    ['2^53', 2 ** 53],
    ['"9007199254740993"', '9007199254740993'],
    ['true', true],
    ['null', null],
    ['[7]', [7]],
    ['{}', {}]
  ]
  for (const [what, sub] of subs) {
    const bad = token({ sub })
    isAuthInvalid(t, await send(app, 'GET', '/user/me/preference/', bearer(bad)), `sub ${what}`)
    isAuthInvalid(t, await client(app, bad).create('k', 1), `sub ${what}: no create as me`)
    const admin = token({ sub, roles: ['admin'] })
    isAuthInvalid(t, await client(app, admin).create('k', 1, 1), `sub ${what} with admin role: still 401`)
  }
  // With the default mapping, the message says what `sub` must be.
  t.equal((await send(app, 'GET', '/user/me/preference/', bearer(token({ sub: 'abc' })))).json().message,
    'Invalid token: the token does not identify a user (sub must be a positive integer)')
  t.same(await rows(), [], 'nothing was written')
})

t.test('sub as a number or a decimal string identifies the caller', async (t) => {
  const { app, rows } = await build(t)
  const asString = client(app, token({ sub: '7' }))
  const created = await asString.create('k', 'v', 'me')
  t.equal(created.statusCode, 201)
  t.equal(created.json().user_id, 7, 'sub "7" is user 7')
  t.equal(created.headers.location, `${PREFIX}/user/7/preference/${created.json().id}/`)
  t.equal((await asString.request('GET', '/user/7/preference/')).statusCode, 200)
  t.equal((await asString.request('GET', `/user/7/preference/${created.json().id}/`)).statusCode, 200)
  isError(t, await asString.request('GET', '/user/8/preference/'), 403, 'PREFERENCE_FORBIDDEN', 'sub "7" is not user 8')

  const big = String(Number.MAX_SAFE_INTEGER)
  const largest = await client(app, token({ sub: big })).create('k', 1, 'me')
  t.equal(largest.statusCode, 201, 'the largest safe integer is a valid sub')
  t.equal(largest.json().user_id, Number.MAX_SAFE_INTEGER)

  const asNumber = await client(app, token({ sub: 7 })).request('GET', '/user/7/preference/')
  t.equal(asNumber.statusCode, 200)
  t.same(asNumber.json().results.map((p: { key: string }) => p.key), ['k'], 'sub 7 and sub "7" are the same user')
  t.same((await rows()).map((r) => Number(r.user_id)), [7, Number.MAX_SAFE_INTEGER])
})

t.test('roles ["admin"] or role "admin" make an admin who may act on other users', async (t) => {
  const { app, rows } = await build(t)
  const admins: Array<[string, string]> = [
    ['roles ["admin"]', token({ sub: 3, roles: ['admin'] })],
    ['roles ["user", "admin"]', token({ sub: 3, roles: ['user', 'admin'] })],
    ['role "admin"', token({ sub: 3, role: 'admin' })],
    ['helper adminToken()', adminToken()]
  ]
  for (const [what, adminJwt] of admins) {
    const c = client(app, adminJwt)
    const created = await c.create(`by ${what}`, 1, 5)
    t.equal(created.statusCode, 201, `${what}: create for user 5`)
    t.equal(created.json().user_id, 5)
    const id = created.json().id
    t.equal((await c.request('GET', '/user/5/preference/')).statusCode, 200, `${what}: list user 5`)
    t.equal((await c.request('GET', `/user/5/preference/${id}/`)).statusCode, 200, `${what}: get`)
    const patched = await c.request('PATCH', `/user/5/preference/${id}/`, { value: 2 })
    t.equal(patched.statusCode, 200, `${what}: patch`)
    t.equal(patched.json().value, 2)
    t.equal((await c.request('PUT', `/user/5/preference/${id}/`, { key: `by ${what}`, value: 3 })).statusCode, 200,
      `${what}: put`)
    t.equal((await c.request('DELETE', `/user/5/preference/${id}/`)).statusCode, 204, `${what}: delete`)
  }
  t.same(await rows(), [], 'everything created was deleted')

  // An admin's `me` is the admin's own id.
  const mine = await client(app, token({ sub: 3, role: 'admin' })).create('own', 1, 'me')
  t.equal(mine.json().user_id, 3)
})

t.test('roles that are not an admin array do not make an admin: 403, nothing changes', async (t) => {
  const { app, rows } = await build(t)
  const victim = await client(app, token(5)).create('mine', 1)
  t.equal(victim.statusCode, 201)
  const id = victim.json().id
  const before = await rows()
  const notAdmins: Array<[string, string]> = [
    ['roles "admin" (not an array)', token({ sub: 3, roles: 'admin' })],
    ['roles ["user"]', token({ sub: 3, roles: ['user'] })],
    ['roles ["Admin"]', token({ sub: 3, roles: ['Admin'] })],
    ['roles [["admin"]]', token({ sub: 3, roles: [['admin']] })],
    ['roles {admin: true}', token({ sub: 3, roles: { admin: true } })],
    ['role ["admin"]', token({ sub: 3, role: ['admin'] })],
    ['role "administrator"', token({ sub: 3, role: 'administrator' })],
    ['admin: true claim', token({ sub: 3, claims: { admin: true } })],
    ['no roles', token(3)]
  ]
  for (const [what, jwt] of notAdmins) {
    const c = client(app, jwt)
    isError(t, await c.create('k', 1, 5), 403, 'PREFERENCE_FORBIDDEN', `${what}: create`)
    isError(t, await c.request('GET', '/user/5/preference/'), 403, 'PREFERENCE_FORBIDDEN', `${what}: list`)
    isError(t, await c.request('GET', `/user/5/preference/${id}/`), 403, 'PREFERENCE_FORBIDDEN', `${what}: get`)
    isError(t, await c.request('PATCH', `/user/5/preference/${id}/`, { value: 2 }), 403, 'PREFERENCE_FORBIDDEN',
      `${what}: patch`)
    isError(t, await c.request('PUT', `/user/5/preference/${id}/`, { key: 'x', value: 2 }), 403,
      'PREFERENCE_FORBIDDEN', `${what}: put`)
    isError(t, await c.request('DELETE', `/user/5/preference/${id}/`), 403, 'PREFERENCE_FORBIDDEN', `${what}: delete`)
  }
  t.same(await rows(), before, 'the database is unchanged')
})

t.test('a token in the query string or a cookie is not accepted: 401', async (t) => {
  const { app, rows } = await build(t)
  const good = token(1)
  const admin = adminToken()
  for (const name of ['token', 'access_token', 'jwt']) {
    isAuthRequired(t, await send(app, 'GET', `/user/1/preference/?${name}=${good}`), `?${name}=`)
    isAuthRequired(t, await send(app, 'POST', `/user/1/preference/?${name}=${admin}`,
      { 'content-type': 'application/json' }, JSON.stringify({ key: 'k', value: 1 })), `?${name}= on POST`)
    isAuthRequired(t, await send(app, 'GET', '/user/1/preference/', { cookie: `${name}=${good}` }), `cookie ${name}`)
    isAuthRequired(t, await send(app, 'POST', '/user/1/preference/',
      { cookie: `${name}=${admin}`, 'content-type': 'application/json' }, JSON.stringify({ key: 'k', value: 1 })),
    `cookie ${name} on POST`)
  }
  isAuthRequired(t, await send(app, 'GET', '/user/1/preference/', { 'x-access-token': good }), 'x-access-token header')
  t.same(await rows(), [], 'nothing was written')
})

t.test('order: a bad or missing token is 401 even when {user_id} is malformed', async (t) => {
  const { app } = await build(t)
  const bad = token({ sub: 1, secret: 'another-secret-that-is-long-enough-for-hs256' })
  for (const userId of ['abc', '0', '01', '-1', '+1', '1.0']) {
    isAuthInvalid(t, await send(app, 'GET', `/user/${userId}/preference/`, bearer(bad)), `bad token, user_id ${userId}`)
    isAuthInvalid(t, await send(app, 'GET', `/user/${userId}/preference/abc/`, bearer(bad)),
      `bad token, user_id ${userId}, id abc`)
    isAuthRequired(t, await send(app, 'GET', `/user/${userId}/preference/`), `no token, user_id ${userId}`)
  }
})

t.test('order: a good token and a malformed {user_id} is 400, even for another user', async (t) => {
  const { app, rows } = await build(t)
  const seeded = await client(app, token(1)).create('k', 1)
  t.equal(seeded.statusCode, 201)
  const before = await rows()
  const malformed = ['abc', '0', '01', '-1', '+1', '1.0', '1e3', '9007199254740993', 'ME', 'me2']
  const callers: Array<[string, string]> = [['user 1', token(1)], ['user 2', token(2)], ['an admin', adminToken()]]
  for (const [who, jwt] of callers) {
    const c = client(app, jwt)
    for (const userId of malformed) {
      const what = `${who}, user_id ${userId}`
      isError(t, await c.request('GET', `/user/${userId}/preference/`), 400, 'PREFERENCE_INVALID_PATH_PARAMETER',
        `${what}: list`)
      isError(t, await c.request('GET', `/user/${userId}/preference`), 400, 'PREFERENCE_INVALID_PATH_PARAMETER',
        `${what}: list without slash`)
      isError(t, await c.request('POST', `/user/${userId}/preference/`, { key: 'new', value: 1 }), 400,
        'PREFERENCE_INVALID_PATH_PARAMETER', `${what}: create`)
      isError(t, await c.request('POST', `/user/${userId}/preference/`, '{"key":'), 400,
        'PREFERENCE_INVALID_PATH_PARAMETER', `${what}: create with invalid JSON`)
      isError(t, await c.request('GET', `/user/${userId}/preference/1/`), 400, 'PREFERENCE_INVALID_PATH_PARAMETER',
        `${what}: get`)
      isError(t, await c.request('DELETE', `/user/${userId}/preference/1/`), 400, 'PREFERENCE_INVALID_PATH_PARAMETER',
        `${what}: delete`)
    }
  }
  t.same(await rows(), before, 'the database is unchanged')
})

t.test('order: a malformed preference {id} is 400 on every item route, before 403', async (t) => {
  const { app, rows } = await build(t)
  const seeded = await client(app, token(1)).create('k', 1)
  t.equal(seeded.statusCode, 201)
  const before = await rows()
  const malformed = ['abc', '0', '01', '-1', '+1', '1.0', '1e3', '9007199254740993', 'me']
  for (const [who, jwt, userId] of [['owner', token(1), '1'], ['owner as me', token(1), 'me'],
    ['another user', token(2), '1'], ['an admin', adminToken(), '1']] as const) {
    const c = client(app, jwt)
    for (const id of malformed) {
      const path = `/user/${userId}/preference/${id}/`
      const what = `${who}, id ${id}`
      isError(t, await c.request('GET', path), 400, 'PREFERENCE_INVALID_PATH_PARAMETER', `${what}: GET`)
      isError(t, await c.request('GET', path.slice(0, -1)), 400, 'PREFERENCE_INVALID_PATH_PARAMETER',
        `${what}: GET without slash`)
      isError(t, await c.request('PATCH', path, { value: 2 }), 400, 'PREFERENCE_INVALID_PATH_PARAMETER', `${what}: PATCH`)
      isError(t, await c.request('PUT', path, { key: 'k', value: 2 }), 400, 'PREFERENCE_INVALID_PATH_PARAMETER',
        `${what}: PUT`)
      isError(t, await c.request('DELETE', path), 400, 'PREFERENCE_INVALID_PATH_PARAMETER', `${what}: DELETE`)
    }
  }
  t.same(await rows(), before, 'the database is unchanged')
})

t.test('order: another user is 403 before the body is read or validated; nothing changes', async (t) => {
  const { app, rows } = await build(t)
  const owned = await client(app, token(2)).create('owned', { a: 1 })
  t.equal(owned.statusCode, 201)
  const id = owned.json().id
  const before = await rows()
  const intruder = token(1)
  const auth = bearer(intruder)
  const huge = JSON.stringify({ key: 'big', value: 'x'.repeat(2 * 1024 * 1024) })
  const bodies: Array<[string, Record<string, string>, string | undefined]> = [
    ['a valid body', { 'content-type': 'application/json' }, JSON.stringify({ key: 'k', value: 1 })],
    ['a numeric key', { 'content-type': 'application/json' }, JSON.stringify({ key: 5, value: 1 })],
    ['an empty object', { 'content-type': 'application/json' }, '{}'],
    ['invalid JSON', { 'content-type': 'application/json' }, '{"key":'],
    ['an empty JSON body', { 'content-type': 'application/json' }, ''],
    ['text/plain', { 'content-type': 'text/plain' }, 'key=k'],
    ['application/xml', { 'content-type': 'application/xml' }, '<key>k</key>'],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
    ['a form with non-JSON value', { 'content-type': 'application/x-www-form-urlencoded' }, 'key=k&value=dark'],
    ['a body over the size limit', { 'content-type': 'application/json' }, huge],
    ['a too-large value', { 'content-type': 'application/json' },
      JSON.stringify({ key: 'k', value: 'x'.repeat(70_000) })],
    ['no content type', {}, JSON.stringify({ key: 'k', value: 1 })]
  ]
  for (const [what, headers, payload] of bodies) {
    for (const [method, path] of [['POST', '/user/2/preference/'], ['PATCH', `/user/2/preference/${id}/`],
      ['PUT', `/user/2/preference/${id}/`], ['PATCH', `/user/2/preference/${id}`]] as const) {
      isError(t, await send(app, method, path, { ...auth, ...headers }, payload), 403, 'PREFERENCE_FORBIDDEN',
        `${method} ${path} with ${what}`)
    }
  }
  isError(t, await send(app, 'DELETE', `/user/2/preference/${id}/`, auth), 403, 'PREFERENCE_FORBIDDEN', 'DELETE')
  isError(t, await send(app, 'DELETE', `/user/2/preference/${id}/`, { ...auth, 'content-type': 'text/plain' }, 'junk'),
    403, 'PREFERENCE_FORBIDDEN', 'DELETE with a junk body')
  isError(t, await send(app, 'GET', `/user/2/preference/${id}/`, auth), 403, 'PREFERENCE_FORBIDDEN', 'GET item')
  isError(t, await send(app, 'GET', '/user/2/preference/?limit=abc', auth), 403, 'PREFERENCE_FORBIDDEN',
    'GET list with a bad query')
  isError(t, await send(app, 'GET', '/user/99999/preference/1/', auth), 403, 'PREFERENCE_FORBIDDEN',
    'GET of a user that has nothing')
  t.same(await rows(), before, 'the database is unchanged')

  // The same requests from the owner get past authorisation into body validation.
  const owner = { ...bearer(token(2)), 'content-type': 'application/json' }
  isError(t, await send(app, 'POST', '/user/2/preference/', owner, JSON.stringify({ key: 5, value: 1 })), 400,
    'PREFERENCE_VALIDATION_FAILED', 'owner: numeric key')
  t.equal((await send(app, 'POST', '/user/2/preference/', { ...owner, 'content-type': 'text/plain' }, 'x')).statusCode,
    415, 'owner: text/plain')
  t.same(await rows(), before, 'still unchanged')
})

t.test('`me` resolves to the caller', async (t) => {
  const { app, rows } = await build(t)
  const four = client(app, token(4))
  const five = client(app, token(5))
  const a = await four.create('a', 1, 'me')
  const b = await five.create('b', 2, 'me')
  t.equal(a.json().user_id, 4)
  t.equal(b.json().user_id, 5)
  t.equal(a.headers.location, `${PREFIX}/user/4/preference/${a.json().id}/`, 'Location has the real id')

  const list = await four.request('GET', '/user/me/preference/')
  t.equal(list.statusCode, 200)
  t.same(list.json().results.map((p: { key: string }) => p.key), ['a'], 'only the caller\'s preferences')
  t.equal((await four.request('GET', `/user/me/preference/${a.json().id}/`)).json().key, 'a')
  isError(t, await four.request('GET', `/user/me/preference/${b.json().id}/`), 404, 'PREFERENCE_NOT_FOUND',
    'me cannot reach another user\'s preference')
  isError(t, await four.request('DELETE', `/user/me/preference/${b.json().id}/`), 404, 'PREFERENCE_NOT_FOUND',
    'nor delete it')
  t.equal((await four.request('PATCH', `/user/me/preference/${a.json().id}/`, { value: 10 })).json().value, 10)
  t.equal((await four.request('PUT', `/user/me/preference/${a.json().id}`, { key: 'a2', value: 11 })).json().key, 'a2')
  t.equal((await four.request('DELETE', `/user/me/preference/${a.json().id}/`)).statusCode, 204)
  t.same((await rows()).map((r) => [Number(r.user_id), r.key]), [[5, 'b']])

  const adminMe = await client(app, adminToken(77)).create('admin own', 1, 'me')
  t.equal(adminMe.json().user_id, 77, 'an admin\'s me is the admin')
})

t.test('another user\'s preference id is a 404 that reveals nothing, even to an admin', async (t) => {
  const { app, rows } = await build(t)
  const created = await client(app, token(1)).create('secret', 'x')
  t.equal(created.statusCode, 201)
  const id = created.json().id
  const before = await rows()

  const admin = client(app, adminToken())
  isError(t, await admin.request('GET', `/user/2/preference/${id}/`), 404, 'PREFERENCE_NOT_FOUND', 'admin GET via user 2')
  isError(t, await admin.request('PATCH', `/user/2/preference/${id}/`, { value: 'y' }), 404, 'PREFERENCE_NOT_FOUND',
    'admin PATCH via user 2')
  isError(t, await admin.request('PUT', `/user/2/preference/${id}/`, { key: 'secret', value: 'y' }), 404,
    'PREFERENCE_NOT_FOUND', 'admin PUT via user 2')
  isError(t, await admin.request('DELETE', `/user/2/preference/${id}/`), 404, 'PREFERENCE_NOT_FOUND',
    'admin DELETE via user 2')

  const two = client(app, token(2))
  const foreign = await two.request('GET', `/user/2/preference/${id}/`)
  const absent = await two.request('GET', '/user/2/preference/999999/')
  isError(t, foreign, 404, 'PREFERENCE_NOT_FOUND', 'user 2 GET of user 1\'s id')
  isError(t, absent, 404, 'PREFERENCE_NOT_FOUND', 'user 2 GET of an absent id')
  t.same(foreign.json(), absent.json(), 'a foreign id and an absent id look the same')
  isError(t, await two.request('DELETE', `/user/me/preference/${id}/`), 404, 'PREFERENCE_NOT_FOUND', 'user 2 DELETE')
  t.same(await rows(), before, 'the database is unchanged')

  const owner = await client(app, token(1)).request('GET', `/user/1/preference/${id}/`)
  t.equal(owner.statusCode, 200, 'the owner reads it')
  t.equal(owner.json().value, 'x')
  t.equal((await admin.request('GET', `/user/1/preference/${id}/`)).statusCode, 200, 'an admin reads it via its owner')
})

t.test('asymmetric keys: RS256 and ES256 with issuer and audience', async (t) => {
  const rsaPair = () => generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  const rsa = rsaPair()
  const otherRsa = rsaPair()
  const ec = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  // The helper's signer options take fast-jwt's `key` too (a PEM private key here).
  const signer = (options: Record<string, unknown>) => options as Partial<SignerOptions>

  const rs = (sub: unknown, options: Record<string, unknown> = {}, claims: Record<string, unknown> = {}) =>
    token({ sub, claims, signer: signer({ key: rsa.privateKey, algorithm: 'RS256', iss: ISSUER, aud: AUDIENCE, ...options }) })
  const es = (sub: unknown, options: Record<string, unknown> = {}) =>
    token({ sub, signer: signer({ key: ec.privateKey, algorithm: 'ES256', iss: ISSUER, aud: AUDIENCE, ...options }) })
  const get = async (app: FastifyInstance, jwt: string, path = '/user/1/preference/') =>
    send(app, 'GET', path, bearer(jwt))

  t.test('RS256 only', async (t) => {
    const { app, rows } = await build(t, {
      plugin: { auth: { publicKey: rsa.publicKey, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE } }
    })
    t.equal((await get(app, rs(1))).statusCode, 200, 'a correct token')
    const created = await client(app, rs(1)).create('k', 1)
    t.equal(created.statusCode, 201)
    t.equal(created.json().user_id, 1)
    t.equal((await client(app, rs(3, {}, { roles: ['admin'] })).create('k', 1, 6)).statusCode, 201,
      'admin mapping works with RS256 too')
    isError(t, await get(app, rs(2)), 403, 'PREFERENCE_FORBIDDEN', 'a correct token for another user')
    const before = await rows()

    isAuthInvalid(t, await get(app, rs(1, { iss: 'https://evil.test' })), 'wrong issuer')
    isAuthInvalid(t, await get(app, rs(1, { aud: 'other' })), 'wrong audience')
    isAuthInvalid(t, await get(app, rs(1, { iss: `${ISSUER}.evil.test` })), 'an issuer that only starts like ours')
    isAuthInvalid(t, await get(app, rs(1, { iss: `${ISSUER}/` })), 'an issuer with a trailing slash')
    isAuthInvalid(t, await get(app, rs(1, { aud: `${AUDIENCE}x` })), 'an audience that only starts like ours')
    isAuthInvalid(t, await get(app, rs(1, { iss: undefined })), 'missing iss')
    isAuthInvalid(t, await get(app, rs(1, { aud: undefined })), 'missing aud')
    isAuthInvalid(t, await get(app, rs(1, { key: otherRsa.privateKey })), 'signed by another RSA key')
    isAuthInvalid(t, await get(app, es(1)), 'an ES256 token when only RS256 is configured')
    isAuthInvalid(t, await get(app, token(1)), 'an HS256 token with the test secret')
    isAuthInvalid(t, await get(app, rs(1, { expiresIn: undefined }, { exp: nowSeconds() - 10 })), 'expired, no tolerance')

    // Algorithm confusion: an HS256 token whose HMAC secret is the (public) PEM key.
    const confusionClaims = { sub: 1, roles: ['admin'], iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600 }
    for (const [what, secret] of [['the PEM', rsa.publicKey], ['the trimmed PEM', rsa.publicKey.trim()]] as const) {
      const input = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(confusionClaims)}`
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
      isAuthInvalid(t, await get(app, forged), `HS256 signed with ${what} as secret`)
      isAuthInvalid(t, await client(app, forged).create('forged', 1, 9), `HS256 with ${what} cannot create`)
    }
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 1, iss: ISSUER, aud: AUDIENCE })}.`
    isAuthInvalid(t, await get(app, unsigned), 'alg none')
    t.same(await rows(), before, 'no rejected token wrote anything')
  })

  t.test('ES256 only', async (t) => {
    const { app } = await build(t, {
      plugin: { auth: { publicKey: ec.publicKey, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE } }
    })
    t.equal((await get(app, es(1))).statusCode, 200, 'a correct ES256 token')
    isAuthInvalid(t, await get(app, es(1, { iss: 'https://evil.test' })), 'wrong issuer')
    isAuthInvalid(t, await get(app, es(1, { aud: 'nope' })), 'wrong audience')
    isAuthInvalid(t, await get(app, rs(1)), 'an RS256 token')
    const input = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 1, iss: ISSUER, aud: AUDIENCE })}`
    const forged = `${input}.${createHmac('sha256', ec.publicKey).update(input).digest('base64url')}`
    isAuthInvalid(t, await get(app, forged), 'HS256 signed with the EC PEM')
  })

  t.test('default algorithms for a public key accept RS256 and ES256 tokens made with it', async (t) => {
    const { app } = await build(t, { plugin: { auth: { publicKey: rsa.publicKey, issuer: ISSUER, audience: AUDIENCE } } })
    t.equal((await get(app, rs(1))).statusCode, 200)
    isAuthInvalid(t, await get(app, es(1)), 'an ES256 token from another key')
    isAuthInvalid(t, await get(app, token(1)), 'HS256')
  })

  t.test('clockToleranceSeconds', async (t) => {
    const { app } = await build(t, {
      plugin: {
        auth: {
          publicKey: rsa.publicKey, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 30
        }
      }
    })
    const now = nowSeconds()
    const exp = (seconds: number) => rs(1, { expiresIn: undefined }, { exp: seconds })
    const nbf = (seconds: number) => rs(1, { expiresIn: undefined }, { exp: now + 3600, nbf: seconds })
    t.equal((await get(app, exp(now - 10))).statusCode, 200, 'expired 10 s ago is within 30 s')
    isAuthInvalid(t, await get(app, exp(now - 120)), 'expired 120 s ago')
    t.equal((await get(app, nbf(now + 10))).statusCode, 200, 'nbf 10 s ahead is within 30 s')
    isAuthInvalid(t, await get(app, nbf(now + 120)), 'nbf 120 s ahead')
  })
})

t.test('a custom mapCaller replaces sub and roles', async (t) => {
  const seen: Array<Record<string, unknown>> = []
  const mapCaller: CallerMapper = (claims) => {
    seen.push(claims)
    return typeof claims.uid === 'number' ? { id: claims.uid, isAdmin: claims.admin === true } : null
  }
  const { app, rows } = await build(t, { plugin: { auth: { secret: SECRET, mapCaller } } })
  const uid = (id: number, extra: Record<string, unknown> = {}, sub?: unknown) =>
    token({ sub, claims: { uid: id, ...extra } })

  const created = await client(app, uid(5)).create('k', 1, 'me')
  t.equal(created.statusCode, 201)
  t.equal(created.json().user_id, 5, 'me is claims.uid')
  t.equal(seen.at(-1)?.uid, 5, 'mapCaller received the verified claims')
  t.equal((await client(app, uid(5, {}, 6)).request('GET', '/user/5/preference/')).statusCode, 200,
    'uid wins over sub')
  isError(t, await client(app, uid(5, {}, 6)).request('GET', '/user/6/preference/'), 403, 'PREFERENCE_FORBIDDEN',
    'sub is not the identity any more')
  isError(t, await client(app, uid(5, { roles: ['admin'], role: 'admin' })).create('x', 1, 6), 403,
    'PREFERENCE_FORBIDDEN', 'roles and role no longer make an admin')

  const admin = await client(app, uid(5, { admin: true })).create('x', 1, 6)
  t.equal(admin.statusCode, 201, 'claims.admin makes an admin')
  t.equal(admin.json().user_id, 6)

  const before = await rows()
  const plainSub = await send(app, 'GET', '/user/6/preference/', bearer(token({ sub: 6 })))
  isAuthInvalid(t, plainSub, 'mapCaller returning null: a plain sub token')
  // The host's mapping decides who the token is: nothing about `sub`, which it may not use.
  t.equal(plainSub.json().message, 'Invalid token: the token does not identify a user', 'a message that fits the host')
  isAuthInvalid(t, await client(app, token({ sub: 6, roles: ['admin'] })).create('y', 1, 6),
    'mapCaller returning null: an admin-by-default token cannot create')
  isAuthInvalid(t, await send(app, 'GET', '/user/6/preference/', bearer(token({ sub: 6, claims: { uid: '6' } }))),
    'mapCaller returning null: uid as a string')
  t.same(await rows(), before, 'nothing was written by rejected tokens')
  isAuthRequired(t, await send(app, 'GET', '/user/5/preference/'), 'no token is still 401')
  isAuthInvalid(t, await send(app, 'GET', '/user/5/preference/', bearer(uid(5).slice(0, -3))),
    'the signature is still verified before mapCaller')
})

t.test('a mapCaller that throws or rejects: 500 PREFERENCE_INTERNAL_ERROR, nothing written, detail kept out', async (t) => {
  const mapCaller: CallerMapper = (claims) => {
    if (claims.how === 'throw') throw new Error('directory down (sync)')
    if (claims.how === 'reject') return Promise.reject(new Error('directory down (async)'))
    // eslint-disable-next-line prefer-promise-reject-errors
    if (claims.how === 'reject-string') return Promise.reject('directory down (string)')
    return { id: Number(claims.sub), isAdmin: false }
  }
  const { app, rows } = await build(t, { plugin: { auth: { secret: SECRET, mapCaller } } })
  for (const how of ['throw', 'reject', 'reject-string']) {
    const res = await client(app, token({ sub: 4, claims: { how } })).create('k', 1, 4)
    t.equal(res.statusCode, 500, `${how}: 500`)
    t.equal(res.json().code, 'PREFERENCE_INTERNAL_ERROR', `${how}: code`)
    t.notMatch(res.payload, /directory/, `${how}: its detail stays in the log`)
  }
  t.same(await rows(), [], 'nothing was written')
  t.equal((await client(app, token(4)).create('k', 1, 4)).statusCode, 201, 'a mapCaller that answers still admits')
})

t.test('an async mapCaller, and one returning a caller that is not valid', async (t) => {
  const mapCaller: CallerMapper = async (claims) => {
    await new Promise((resolve) => setImmediate(resolve))
    if (claims.bad === true) return { id: 0, isAdmin: false }
    return typeof claims.uid === 'number' ? { id: claims.uid, isAdmin: false } : null
  }
  const { app, rows } = await build(t, { plugin: { auth: { secret: SECRET, mapCaller } } })
  const created = await client(app, token({ claims: { uid: 8 } })).create('k', 1, 'me')
  t.equal(created.statusCode, 201)
  t.equal(created.json().user_id, 8)
  const asyncNull = await send(app, 'GET', '/user/8/preference/', bearer(token({ sub: 8 })))
  isAuthInvalid(t, asyncNull, 'async null')
  t.equal(asyncNull.json().message, 'Invalid token: the token does not identify a user')
  isAuthInvalid(t, await client(app, token({ claims: { uid: 8, bad: true } })).create('z', 1, 'me'), 'id 0 caller')
  t.equal((await rows()).length, 1)
})
