import { createHmac, createPrivateKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto'
import { connect } from 'node:net'
import type { SignerOptions } from 'fast-jwt'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../server/app.js'
import { bearer, build, freshDatabaseUrl, PREFIX, SECRET, token } from './helper.js'

// Attacks on the bearer token that test/auth.test.ts does not already cover (it has: alg
// none, tampering, another secret, HS256 signed with the RSA/EC public key, exp/nbf,
// iss/aud, bad subs, tokens in the query string, a cookie or x-access-token). Every one
// must be a 401 with the plugin's code, never a 5xx, and must write nothing.

const ISSUER = 'https://issuer.test'
const AUDIENCE = 'prefs'
const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** header.payload signed with HMAC-SHA(bits) under `secret`; payload given as raw JSON text. */
function hmacToken (header: Record<string, unknown>, payloadText: string, secret: string | Buffer, bits = 256): string {
  const input = `${b64url(header)}.${Buffer.from(payloadText).toString('base64url')}`
  return `${input}.${createHmac(`sha${bits}`, secret).update(input).digest('base64url')}`
}

function isInvalid (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, `${what}: 401`)
  const body = res.json()
  t.equal(body.code, 'PREFERENCE_AUTH_INVALID', `${what}: code`)
  t.match(String(res.headers['www-authenticate']), /error="invalid_token"/, `${what}: WWW-Authenticate`)
  t.notMatch(res.body, /\bat .+:\d+:\d+|FAST_JWT|stack/i, `${what}: no internals in the answer`)
}

async function get (app: FastifyInstance, jwt: string, path = '/user/1/preference/'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: `${PREFIX}${path}`, headers: bearer(jwt) })
}

async function post (app: FastifyInstance, headers: Record<string, string>, payload: string, path = '/user/1/preference/') {
  return app.inject({ method: 'POST', url: `${PREFIX}${path}`, headers, payload })
}

t.test('oversized tokens: 401, quickly, never 5xx', async (t) => {
  const { app, rows } = await build(t)
  const [h, p, s] = token({ sub: 1, roles: ['admin'] }).split('.')
  for (const kb of [9, 20, 100, 1024]) {
    const started = Date.now()
    const padded = `${h}.${p}${'A'.repeat(kb * 1024)}.${s}`
    isInvalid(t, await get(app, padded), `${kb} KB token`)
    isInvalid(t, await post(app, { ...bearer(padded), 'content-type': 'application/json' }, JSON.stringify({ key: 'k', value: 1 })),
      `${kb} KB token on POST`)
    t.ok(Date.now() - started < 2_000, `${kb} KB: answered in ${Date.now() - started} ms`)
  }
  // A real, validly signed token that is large because of its claims.
  const bigClaims = token({ sub: 1, claims: { pad: 'x'.repeat(20 * 1024) } })
  t.ok(bigClaims.length > 20 * 1024)
  isInvalid(t, await get(app, bigClaims), 'a validly signed 27 KB token (over the 8 KB token limit)')
  t.same(await rows(), [], 'nothing was written')
})

t.test('over HTTP: a 20 KB token is a 401, not a 431 or a 5xx; duplicate Authorization headers grant nothing', async (t) => {
  const app = await buildApp({ jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(t), logger: false })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const raw = (request: string) => new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    let text = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${text}`)) }, 10_000)
    socket.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
    socket.on('close', () => { clearTimeout(timer); resolve(text) })
    socket.on('error', (error) => { clearTimeout(timer); reject(error) })
    socket.end(request)
  })
  const [h, p, s] = token(1).split('.')
  const twenty = `${h}.${p}${'A'.repeat(20 * 1024)}.${s}`
  const res = await raw(`GET ${PREFIX}/user/1/preference/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${twenty}\r\nConnection: close\r\n\r\n`)
  t.match(res, /^HTTP\/1\.1 401 /, '20 KB token: 401')
  t.match(res, /"code":"PREFERENCE_AUTH_INVALID"/)

  // Node keeps the first Authorization header and drops the others: a bad token first and
  // an admin token second must not make an admin.
  const admin = token({ sub: 2, roles: ['admin'] })
  const dup = await raw(`GET ${PREFIX}/user/3/preference/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer junk.junk.junk\r\nAuthorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`)
  t.match(dup, /^HTTP\/1\.1 401 /, 'bad token then admin token: 401')
  const dup2 = await raw(`GET ${PREFIX}/user/3/preference/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token(1)}\r\nAuthorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`)
  t.match(dup2, /^HTTP\/1\.1 403 /, 'user 1\'s token then an admin token: user 1, 403')
})

t.test('RS256 configured: HMAC tokens keyed with the public key, in every HS size and key encoding, are refused', async (t) => {
  const rsa = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  const { app, rows } = await build(t, {
    plugin: { auth: { publicKey: rsa.publicKey, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE } }
  })
  const claims = JSON.stringify({ sub: 1, roles: ['admin'], iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600 })
  const der = createPrivateKey(rsa.privateKey).export({ type: 'pkcs1', format: 'der' })
  const publicDer = Buffer.from(rsa.publicKey.replace(/-----[^-]+-----|\s/g, ''), 'base64')
  const secrets: Array<[string, string | Buffer]> = [
    ['the PEM', rsa.publicKey],
    ['the PEM without its last newline', rsa.publicKey.trimEnd()],
    ['the DER bytes', publicDer],
    ['the base64 body of the PEM', rsa.publicKey.replace(/-----[^-]+-----|\s/g, '')],
    ['an empty secret', ''],
    ['the private key DER (a leaked-key stand-in)', der]
  ]
  for (const bits of [256, 384, 512]) {
    for (const [what, secret] of secrets) {
      const forged = hmacToken({ alg: `HS${bits}`, typ: 'JWT' }, claims, secret, bits)
      isInvalid(t, await get(app, forged), `HS${bits} keyed with ${what}`)
      isInvalid(t, await post(app, { ...bearer(forged), 'content-type': 'application/json' }, JSON.stringify({ key: 'x', value: 1 }), '/user/7/preference/'),
        `HS${bits} keyed with ${what}: no create`)
    }
    // The header claims RS256, the signature is an HMAC with the public key.
    const lying = hmacToken({ alg: 'RS256', typ: 'JWT' }, claims, rsa.publicKey, bits)
    isInvalid(t, await get(app, lying), `alg RS256 over an HS${bits} signature`)
  }
  t.same(await rows(), [], 'nothing was written')
})

t.test('keys offered by the token itself (jwk, jku, x5u, x5c, kid) are never used', async (t) => {
  const rsa = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const { app, rows } = await build(t, {
    plugin: { auth: { publicKey: rsa.publicKey, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE } }
  })
  const claims = { sub: 1, roles: ['admin'], iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600 }
  const signWithAttacker = (header: Record<string, unknown>) => {
    const input = `${b64url({ alg: 'RS256', typ: 'JWT', ...header })}.${b64url(claims)}`
    return `${input}.${cryptoSign('sha256', Buffer.from(input), attacker.privateKey).toString('base64url')}`
  }
  const jwk = attacker.publicKey.export({ format: 'jwk' })
  const headers: Array<[string, Record<string, unknown>]> = [
    ['no key hint', {}],
    ['jwk: the attacker\'s public key', { jwk }],
    ['jku: the attacker\'s key set', { jku: 'http://127.0.0.1:1/jwks.json' }],
    ['x5u', { x5u: 'http://127.0.0.1:1/cert.pem' }],
    ['x5c: junk certificate', { x5c: [Buffer.from('not a certificate').toString('base64')] }],
    ['kid: path traversal', { kid: '../../../../dev/null' }],
    ['kid: SQL', { kid: '\' or 1=1 --' }],
    ['crit: an unknown extension', { crit: ['exp'], exp: 1 }]
  ]
  for (const [what, header] of headers) {
    isInvalid(t, await get(app, signWithAttacker(header)), what)
  }
  // The same claims signed with the configured key do work (the test can fail).
  const genuine = token({ sub: 1, signer: { key: rsa.privateKey, algorithm: 'RS256', iss: ISSUER, aud: AUDIENCE } as Partial<SignerOptions> })
  t.equal((await get(app, genuine)).statusCode, 200, 'the genuine key works')
  t.same(await rows(), [], 'nothing was written')
})

t.test('validly signed tokens with hostile payloads: 401, never 5xx', async (t) => {
  const { app, rows } = await build(t)
  const sign = (payloadText: string) => hmacToken({ alg: 'HS256', typ: 'JWT' }, payloadText, SECRET)
  const exp = nowSeconds() + 3600
  let deep = '1'
  for (let i = 0; i < 5_000; i++) deep = `{"a":${deep}}`
  const payloads: Array<[string, string]> = [
    ['null', 'null'],
    ['a string', '"1"'],
    ['a number', '1'],
    ['true', 'true'],
    ['an array', '[{"sub":1}]'],
    ['not JSON', '{"sub":1'],
    ['empty', ''],
    ['sub 1e400 (Infinity)', `{"sub":1e400,"exp":${exp}}`],
    ['sub -0', `{"sub":-0,"exp":${exp}}`],
    ['exp as a string', '{"sub":1,"exp":"9999999999"}'],
    ['exp as an object', '{"sub":1,"exp":{"valueOf":1}}'],
    ['nbf in the far future as a huge number', `{"sub":1,"exp":${exp},"nbf":1e300}`],
    ['__proto__ carrying sub and roles', `{"__proto__":{"sub":1,"roles":["admin"]},"exp":${exp}}`],
    ['constructor.prototype carrying sub', `{"constructor":{"prototype":{"sub":1}},"exp":${exp}}`],
    ['a NUL inside sub', `{"sub":"1\\u0000","exp":${exp}}`],
    ['a lone surrogate sub', `{"sub":"\\ud800","exp":${exp}}`],
    ['deeply nested claims', `{"x":${deep},"exp":${exp}}`]
  ]
  for (const [what, text] of payloads) {
    const res = await get(app, sign(text))
    t.ok(res.statusCode < 500, `${what}: not a 5xx (${res.statusCode})`)
    isInvalid(t, res, what)
  }
  // Odd but signed by the issuer, so taken as it reads: `1.0000000000000001` is the
  // double 1 (sub 1), and an exp of 1e400 is Infinity (never expires).
  const odd = sign(`{"sub":1.0000000000000001,"exp":${exp}}`)
  t.equal((await get(app, odd)).statusCode, 200, 'sub 1.0000000000000001 is user 1')
  t.equal((await get(app, odd, '/user/2/preference/')).statusCode, 403, 'and only user 1')
  t.equal((await get(app, sign('{"sub":1,"exp":1e400}'))).statusCode, 200, 'exp 1e400: no 5xx')
  // Roles smuggled in __proto__ did not make an admin: the answer above was a 401 and
  // user 2's preferences stay out of reach with a real token of user 1 carrying them too.
  const proto = sign(`{"sub":1,"__proto__":{"roles":["admin"]},"exp":${exp}}`)
  t.equal((await get(app, proto, '/user/2/preference/')).statusCode, 403, '__proto__.roles is not roles')
  const hugeRoles = sign(JSON.stringify({ sub: 1, roles: Array.from({ length: 500 }, () => 'user'), exp }))
  t.equal((await get(app, hugeRoles, '/user/2/preference/')).statusCode, 403, '500 roles without admin: 403')
  t.same(await rows(), [], 'nothing was written')
})

t.test('the token is only read from the Authorization header: not from the body or Proxy-Authorization', async (t) => {
  const { app, rows } = await build(t)
  const admin = token({ sub: 9, roles: ['admin'] })
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const json = { 'content-type': 'application/json' }
  const attempts: Array<[string, Record<string, string>, string]> = [
    ['form field access_token (RFC 6750 2.2)', form, `access_token=${admin}&key=k&value=1`],
    ['JSON field access_token', json, JSON.stringify({ access_token: admin, key: 'k', value: 1 })],
    ['JSON field token', json, JSON.stringify({ token: admin, key: 'k', value: 1 })],
    ['Proxy-Authorization', { ...json, 'proxy-authorization': `Bearer ${admin}` }, JSON.stringify({ key: 'k', value: 1 })],
    ['X-Forwarded-Authorization', { ...json, 'x-forwarded-authorization': `Bearer ${admin}` }, JSON.stringify({ key: 'k', value: 1 })]
  ]
  for (const [what, headers, payload] of attempts) {
    const res = await post(app, headers, payload)
    t.equal(res.statusCode, 401, `${what}: 401`)
    t.equal(res.json().code, 'PREFERENCE_AUTH_REQUIRED', `${what}: no token seen`)
  }
  // With a valid bearer token of another user, a body token does not raise it to admin.
  const res = await post(app, { ...json, ...bearer(token(2)) }, JSON.stringify({ access_token: admin, key: 'k', value: 1 }))
  t.equal(res.statusCode, 403, 'bearer user 2 with an admin token in the body: still 403 on user 1')
  t.same(await rows(), [], 'nothing was written')
})
