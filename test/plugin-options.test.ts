import { generateKeyPairSync } from 'node:crypto'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import preferences from '../index.js'
import type { PreferencesAuthOptions, PreferencesPluginOptions } from '../options/plugin-options.js'
import { bearer, build, client, PREFIX, SECRET, token } from './helper.js'

const { publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
})

/**
 * Registers the plugin with these options (on an in-memory database, so that nothing is
 * written to disk should an option wrongly pass) and waits for the app to be ready.
 */
async function register (t: Test, options: Record<string, unknown>): Promise<void> {
  const app = Fastify({ logger: false })
  t.after(async () => { await app.close() })
  await app.register(preferences, { prefix: PREFIX, database: ':memory:', ...options } as unknown as PreferencesPluginOptions)
  await app.ready()
}

const auth = { secret: SECRET }

// [what, options, a pattern the message must match (it names the option)]
const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
  ['no auth', {}, /\bauth\b/],
  ['auth null', { auth: null }, /\bauth\b/],
  ['auth a string', { auth: SECRET }, /\bauth\b/],
  ['auth without secret or publicKey', { auth: {} }, /secret.*publicKey|publicKey.*secret/],
  ['both secret and publicKey', { auth: { secret: SECRET, publicKey } }, /secret.*publicKey|publicKey.*secret/],
  ['an empty secret', { auth: { secret: '' } }, /auth\.secret/],
  ['an empty Buffer secret', { auth: { secret: Buffer.alloc(0) } }, /auth\.secret/],
  ['a numeric secret', { auth: { secret: 42 } }, /auth\.secret/],
  ['an empty publicKey', { auth: { publicKey: '' } }, /auth\.publicKey/],
  ['algorithms [RS256] with a secret', { auth: { secret: SECRET, algorithms: ['RS256'] } }, /auth\.algorithms/],
  ['algorithms [HS256, RS256] with a secret', { auth: { secret: SECRET, algorithms: ['HS256', 'RS256'] } }, /auth\.algorithms/],
  ['algorithms [HS256] with a publicKey', { auth: { publicKey, algorithms: ['HS256'] } }, /auth\.algorithms/],
  ['algorithms [none] with a secret', { auth: { secret: SECRET, algorithms: ['none'] } }, /auth\.algorithms/],
  ['algorithms [none] with a publicKey', { auth: { publicKey, algorithms: ['none'] } }, /auth\.algorithms/],
  ['empty algorithms', { auth: { secret: SECRET, algorithms: [] } }, /auth\.algorithms/],
  ['algorithms a string', { auth: { secret: SECRET, algorithms: 'HS256' } }, /auth\.algorithms/],
  ['clockToleranceSeconds -1', { auth: { ...auth, clockToleranceSeconds: -1 } }, /clockToleranceSeconds/],
  ['clockToleranceSeconds "30"', { auth: { ...auth, clockToleranceSeconds: '30' } }, /clockToleranceSeconds/],
  ['clockToleranceSeconds NaN', { auth: { ...auth, clockToleranceSeconds: Number.NaN } }, /clockToleranceSeconds/],
  ['clockToleranceSeconds Infinity', { auth: { ...auth, clockToleranceSeconds: Infinity } }, /clockToleranceSeconds/],
  ['mapCaller not a function', { auth: { ...auth, mapCaller: 'sub' } }, /mapCaller/],
  ['an empty issuer', { auth: { publicKey, issuer: '' } }, /auth\.issuer/],
  ['an empty audience list', { auth: { publicKey, audience: [] } }, /auth\.audience/],
  ['maxValueBytes 0', { auth, maxValueBytes: 0 }, /maxValueBytes/],
  ['maxValueBytes 1.5', { auth, maxValueBytes: 1.5 }, /maxValueBytes/],
  ['maxValueBytes "x"', { auth, maxValueBytes: 'x' }, /maxValueBytes/],
  ['maxValueBytes "100"', { auth, maxValueBytes: '100' }, /maxValueBytes/],
  ['maxValueBytes -1', { auth, maxValueBytes: -1 }, /maxValueBytes/],
  ['maxValueBytes NaN', { auth, maxValueBytes: Number.NaN }, /maxValueBytes/],
  ['maxPreferencesPerUser -1', { auth, maxPreferencesPerUser: -1 }, /maxPreferencesPerUser/],
  ['maxPreferencesPerUser 0', { auth, maxPreferencesPerUser: 0 }, /maxPreferencesPerUser/],
  ['maxPreferencesPerUser 2.5', { auth, maxPreferencesPerUser: 2.5 }, /maxPreferencesPerUser/],
  ['maxPageSize 0', { auth, maxPageSize: 0 }, /maxPageSize/],
  ['maxPageSize 1.5', { auth, maxPageSize: 1.5 }, /maxPageSize/],
  ['maxPageSize "10"', { auth, maxPageSize: '10' }, /maxPageSize/],
  ['database 42', { auth, database: 42 }, /database/],
  ['database an object', { auth, database: {} }, /database/],
  ['migrate "yes"', { auth, migrate: 'yes' }, /migrate/],
  ['migrate 1', { auth, migrate: 1 }, /migrate/]
]

for (const [what, options, message] of invalid) {
  t.test(`invalid option: ${what}`, async (t) => {
    await t.rejects(register(t, options), { code: 'PREFERENCE_INVALID_OPTION', message }, what)
    await t.rejects(register(t, options), { message: /^Invalid preferences plugin option: / }, 'the message says what failed')
  })
}

t.test('the same options, corrected, register fine', async (t) => {
  await t.resolves(register(t, { auth }), 'a secret')
  await t.resolves(register(t, { auth: { secret: Buffer.from(SECRET) } }), 'a Buffer secret')
  await t.resolves(register(t, { auth: { secret: SECRET, algorithms: ['HS256', 'HS512'] } }), 'HS algorithms')
  await t.resolves(register(t, { auth: { publicKey } }), 'a public key, default algorithms')
  await t.resolves(register(t, { auth: { publicKey, algorithms: ['RS256'], issuer: 'https://i', audience: ['a', 'b'] } }),
    'a public key with issuer and audience')
  await t.resolves(register(t, { auth: { ...auth, clockToleranceSeconds: 0 } }), 'clockToleranceSeconds 0')
  await t.resolves(register(t, { auth: { ...auth, clockToleranceSeconds: 30 } }), 'clockToleranceSeconds 30')
  await t.resolves(register(t, { auth: { ...auth, mapCaller: () => null } }), 'a mapCaller')
  await t.resolves(register(t, {
    auth, maxValueBytes: 1, maxPreferencesPerUser: 1, maxPageSize: 1, migrate: true
  }), 'the smallest limits')
})

// The type test (npm run typecheck): each @ts-expect-error fails the typecheck if the types
// ever accept that combination. The same objects are refused at registration, for JavaScript.
t.test('auth: the types refuse what registration refuses', async (t) => {
  const refused: Array<[string, PreferencesAuthOptions, RegExp]> = [
    // @ts-expect-error: with verify the host verifies, so a secret would never be used
    ['verify with a secret', { verify: 'host-jwt', secret: SECRET }, /auth\.secret/],
    // @ts-expect-error: the same for a public key
    ['verify with a publicKey', { verify: () => ({}), publicKey }, /auth\.publicKey/],
    // @ts-expect-error: and for every option of the plugin's own verification
    ['verify with an issuer', { verify: 'host-jwt', issuer: 'https://i' }, /auth\.issuer/],
    // @ts-expect-error: algorithms configure the plugin's own verification too
    ['verify with algorithms', { verify: 'host-jwt', algorithms: ['HS256'] }, /auth\.algorithms/],
    // @ts-expect-error: exactly one key
    ['a secret and a publicKey', { secret: SECRET, publicKey }, /exactly one of secret/],
    // @ts-expect-error: a key or a verifier is required
    ['none of them', {}, /exactly one of secret/],
    // @ts-expect-error: mapCaller alone is not a way to verify
    ['a mapCaller alone', { mapCaller: () => null }, /exactly one of secret/]
  ]
  for (const [what, refusedAuth, message] of refused) {
    await t.rejects(register(t, { auth: refusedAuth }), { code: 'PREFERENCE_INVALID_OPTION', message }, what)
  }
  const accepted: PreferencesAuthOptions[] = [
    { secret: SECRET, algorithms: ['HS512'], clockToleranceSeconds: 5, mapCaller: () => null },
    { publicKey, algorithms: ['RS256'], issuer: 'https://i', audience: ['a'] },
    { verify: () => ({ sub: 1 }), mapCaller: () => ({ id: 1, isAdmin: false }) }
  ]
  for (const acceptedAuth of accepted) await t.resolves(register(t, { auth: acceptedAuth }))
})

t.test('registered without await, the bad option surfaces at app.ready()', async (t) => {
  const app = Fastify({ logger: false })
  t.after(async () => { await app.close() })
  app.register(preferences, { prefix: PREFIX, database: ':memory:', auth: {} } as unknown as PreferencesPluginOptions)
  await t.rejects(async () => { await app.ready() }, { code: 'PREFERENCE_INVALID_OPTION', message: /auth/ })
})

t.test('maxPageSize sets the largest accepted limit on GET list', async (t) => {
  const { app } = await build(t, { plugin: { maxPageSize: 5 } })
  const c = client(app, token(1))
  for (let i = 0; i < 7; i++) t.equal((await c.create(`k${i}`, i)).statusCode, 201)

  const five = await c.request('GET', '/user/1/preference/?limit=5')
  t.equal(five.statusCode, 200, 'limit=5 is accepted')
  t.equal(five.json().count, 7)
  t.equal(five.json().results.length, 5)
  const next = new URL(five.json().next)
  t.equal(next.pathname, `${PREFIX}/user/1/preference/`)
  t.same([next.searchParams.get('limit'), next.searchParams.get('offset')], ['5', '5'], 'next page')

  const six = await c.request('GET', '/user/1/preference/?limit=6')
  t.equal(six.statusCode, 400, 'limit=6 is over the maximum')
  t.equal(six.json().code, 'PREFERENCE_VALIDATION_FAILED')
  t.equal((await c.request('GET', '/user/1/preference/?limit=1000')).statusCode, 400, 'so is the default maximum')
  t.equal((await c.request('GET', '/user/1/preference/?limit=0')).statusCode, 400, 'limit=0 is still out of range')

  // A request without `limit` cannot be out of range; it gets at most maxPageSize results.
  const noLimit = await c.request('GET', '/user/1/preference/')
  t.equal(noLimit.statusCode, 200, `no limit is fine with a small maxPageSize (got ${noLimit.body})`)
  t.ok(noLimit.json().results?.length <= 5, 'no more than maxPageSize results')
  t.equal(noLimit.json().count, 7)
})

t.test('defaults: limit up to 1000, values up to 65536 bytes', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  t.equal((await c.request('GET', '/user/1/preference/?limit=1000')).statusCode, 200, 'limit=1000')
  const over = await c.request('GET', '/user/1/preference/?limit=1001')
  t.equal(over.statusCode, 400, 'limit=1001')
  t.equal(over.json().code, 'PREFERENCE_VALIDATION_FAILED')

  // A JSON string of n characters is n + 2 bytes of compact JSON.
  const atLimit = await c.create('at', 'x'.repeat(65_536 - 2))
  t.equal(atLimit.statusCode, 201, '65536 bytes')
  const tooBig = await c.create('over', 'x'.repeat(65_536 - 1))
  t.equal(tooBig.statusCode, 413, '65537 bytes')
  t.equal(tooBig.json().code, 'PREFERENCE_VALUE_TOO_LARGE')
  t.same((await rows()).map((r) => r.key), ['at'])
})

t.test('maxValueBytes and maxPreferencesPerUser change the limits', async (t) => {
  const { app, rows } = await build(t, { plugin: { maxValueBytes: 10, maxPreferencesPerUser: 2 } })
  const c = client(app, token(1))
  t.equal((await c.create('a', '12345678')).statusCode, 201, '10 bytes')
  const big = await c.create('b', '123456789')
  t.equal(big.statusCode, 413, '11 bytes')
  t.equal(big.json().code, 'PREFERENCE_VALUE_TOO_LARGE')
  t.equal((await c.create('b', 1)).statusCode, 201)
  const third = await c.create('c', 1)
  t.equal(third.statusCode, 409)
  t.equal(third.json().code, 'PREFERENCE_LIMIT_REACHED')
  t.same((await rows()).map((r) => r.key), ['a', 'b'])
})

t.test('an HS512 secret app accepts HS512 tokens only when configured', async (t) => {
  const { app } = await build(t, { plugin: { auth: { secret: SECRET, algorithms: ['HS512'] } } })
  const hs512 = token({ sub: 1, signer: { algorithm: 'HS512' } })
  t.equal((await app.inject({ url: `${PREFIX}/user/1/preference/`, headers: bearer(hs512) })).statusCode, 200)
  const hs256 = await app.inject({ url: `${PREFIX}/user/1/preference/`, headers: bearer(token(1)) })
  t.equal(hs256.statusCode, 401, 'HS256 is not in the list')
  t.equal(hs256.json().code, 'PREFERENCE_AUTH_INVALID')
})
