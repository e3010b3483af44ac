import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import t from 'tap'
import preferences, { openDatabase } from '../index.js'
import { adminToken, bearer, build, client, freshDatabaseUrl, PREFIX, SECRET, token } from './helper.js'
import { KEYS } from './keys-fixture.js'

const MERGE = { 'content-type': 'application/merge-patch+json' }

async function registerWith (options: Record<string, unknown>): Promise<Error | undefined> {
  const app = Fastify({ logger: false })
  try {
    await app.register(preferences, { auth: { secret: SECRET }, database: ':memory:', ...options })
    await app.ready()
    return undefined
  } catch (error) {
    return error as Error
  } finally {
    await app.close()
  }
}

t.test('a bad definition stops registration with an error that names the key', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a default that fails its schema', { keys: { theme: { schema: Type.String(), default: 5 } } }, /keys\["theme"\]\.default does not match its schema/],
    ['a star in the middle', { keys: { 'a*b': { schema: Type.String() } } }, /keys\["a\*b"\]: a pattern has one "\*", as its last character/],
    ['two stars', { keys: { 'a.**': { schema: Type.String() } } }, /keys\["a\.\*\*"\]/],
    ['no schema', { keys: { x: { default: 1 } } }, /keys\["x"\] must be \{ schema/],
    ['a writable that is neither', { keys: { x: { schema: Type.String(), writable: 'root' } } }, /keys\["x"\]\.writable/],
    ['a schema the validator refuses', { keys: { x: { schema: { type: 'nonsense' } } } }, /keys\["x"\]\.schema is not a valid JSON Schema/],
    ['unknownKeys', { unknownKeys: 'maybe' }, /unknownKeys must be "allow" or "reject"/]
  ]
  for (const [what, options, message] of cases) {
    const error = await registerWith(options)
    t.match(error, { code: 'PREFERENCE_INVALID_OPTION', message }, what)
  }
  t.equal(await registerWith({ keys: { '*': { schema: Type.String() } } }), undefined, 'a lone * is a catch-all')
  t.equal(await registerWith({ keys: KEYS, unknownKeys: 'reject' }), undefined, 'the test registry registers')
})

t.test('every write path checks the value against its key\'s schema: 400 PREFERENCE_VALUE_INVALID, nothing written', async (t) => {
  const test = await build(t, { plugin: { keys: KEYS } })
  const c = client(test.app, token(1))
  const layout = (await c.create('layout', { columns: 2 })).json()
  const volume = (await c.create('volume', 3)).json()
  const before = await test.rows()

  const refused = [
    await c.create('theme', 'blue'),
    await c.request('PATCH', `/user/1/preference/${layout.id}/`, { value: { columns: 9 } }),
    await c.request('PUT', `/user/1/preference/${layout.id}/`, { key: 'layout', value: { columns: 'two' } }),
    await c.request('PUT', '/user/1/preference/by-key/theme/', { value: 'blue' }),
    // A rename is checked against the new key's definition, with the stored value.
    await c.request('PATCH', `/user/1/preference/${volume.id}/`, { key: 'theme' }),
    await c.request('PATCH', '/user/1/preference/', JSON.stringify({ layout: { columns: 9 } }), MERGE),
    await c.request('PATCH', '/user/1/preference/', JSON.stringify({ ok: 1, 'tour.x': 'yes' }), MERGE)
  ]
  for (const res of refused) {
    t.equal(res.statusCode, 400, res.body)
    t.equal(res.json().code, 'PREFERENCE_VALUE_INVALID')
  }
  t.match(refused[0].json().message, /^The value of "theme" does not match its schema: at "" it must be one of "light", "dark"$/)
  t.match(refused[1].json().message, /"layout".*at "\/columns" it must be <= 4/, 'the merged key and the JSON Pointer')
  t.match(refused[2].json().message, /at "\/columns" it must be integer/)
  t.match(refused[4].json().message, /"theme"/, 'the new key is named')
  t.match(refused[5].json().message, /"layout".*at "\/columns"/, 'a merge patch names the key')
  t.match(refused[6].json().message, /"tour\.x"/)
  t.same(await test.rows(), before, 'nothing changed')

  // Valid writes pass, and a merge patch is checked on its merged result.
  t.equal((await c.request('PATCH', '/user/1/preference/', JSON.stringify({ layout: { dense: true } }), MERGE)).statusCode, 200)
  t.same((await c.request('GET', '/user/1/preference/by-key/layout/')).json().value, { columns: 2, dense: true })
  t.equal((await c.request('PUT', '/user/1/preference/by-key/theme/', { value: 'dark' })).statusCode, 201)
})

t.test('patterns: an exact key beats a pattern, a longer pattern a shorter one', async (t) => {
  const { app } = await build(t, { plugin: { keys: KEYS } })
  const c = client(app, token(1))
  const status = async (key: string, value: unknown) => (await c.create(key, value)).statusCode
  t.equal(await status('tour.welcome', true), 201, 'tour.* takes a boolean')
  t.equal(await status('tour.intro', 1), 400, 'tour.* refuses a number')
  t.equal(await status('tour.special.a', 3), 201, 'tour.special.* takes an integer')
  t.equal(await status('tour.special.b', true), 400, 'tour.special.* wins over tour.*')
  t.equal(await status('tour.exact', 'text'), 201, 'the exact key wins over both patterns')
  t.equal(await status('tour.', true), 201, 'a pattern needs one more character: "tour." is free-form')
  t.equal(await status('free-form', { any: ['json'] }), 201, 'keys without a definition are free-form by default')
})

t.test('unknownKeys reject: a write of a key with no definition is 400 PREFERENCE_KEY_UNKNOWN', async (t) => {
  const test = await build(t, { plugin: { keys: KEYS, unknownKeys: 'reject' } })
  const c = client(test.app, token(1))
  const admin = client(test.app, adminToken())
  for (const res of [
    await c.create('free-form', 1),
    await c.request('PUT', '/user/1/preference/by-key/free-form/', { value: 1 }),
    await c.request('PATCH', '/user/1/preference/', JSON.stringify({ theme: 'dark', 'free-form': 1 }), MERGE),
    await admin.request('PUT', '/preference-defaults/site/by-key/free-form/', { value: 1 })
  ]) {
    t.equal(res.statusCode, 400, res.body)
    t.match(res.json(), { code: 'PREFERENCE_KEY_UNKNOWN', message: /"free-form"/ })
  }
  t.same(await test.rows(), [])
  t.same(await test.defaults(), {})
  t.equal((await c.create('tour.welcome', true)).statusCode, 201, 'a key a pattern covers is known')
})

t.test('writable admin: reading stays allowed, a non-admin write or delete is 403 PREFERENCE_KEY_READ_ONLY', async (t) => {
  const test = await build(t, { plugin: { keys: KEYS } })
  const user = client(test.app, token(1))
  const admin = client(test.app, adminToken())
  const created = await admin.create('billing.plan', 'pro', 1)
  t.equal(created.statusCode, 201, 'an admin writes it for the user')
  const id = created.json().id
  const before = await test.rows()

  for (const res of [
    await user.create('billing.plan', 'enterprise'),
    await user.request('PUT', '/user/1/preference/by-key/billing.plan/', { value: 'enterprise' }),
    await user.request('PATCH', `/user/1/preference/${id}/`, { value: 'enterprise' }),
    await user.request('PATCH', `/user/1/preference/${id}/`, { key: 'plan' }),
    await user.request('DELETE', `/user/1/preference/${id}/`),
    await user.request('DELETE', '/user/1/preference/by-key/billing.plan/'),
    await user.request('PATCH', '/user/1/preference/', JSON.stringify({ 'billing.plan': null }), MERGE)
  ]) {
    t.equal(res.statusCode, 403, res.body)
    t.match(res.json(), { code: 'PREFERENCE_KEY_READ_ONLY', message: /"billing\.plan"/ })
  }
  t.same(await test.rows(), before, 'nothing changed')
  t.equal((await user.request('GET', '/user/1/preference/by-key/billing.plan/')).statusCode, 200, 'the user reads it')
  t.equal((await admin.request('PUT', '/user/1/preference/by-key/billing.plan/', { value: 'team' })).statusCode, 200)
})

t.test('order of checks: size 413, then read-only 403, then the registry 400', async (t) => {
  const { app } = await build(t, { plugin: { keys: KEYS, maxValueBytes: 64 } })
  const c = client(app, token(1))
  const big = 'x'.repeat(100)
  t.equal((await c.create('billing.plan', big)).statusCode, 413, 'too large before read-only')
  t.equal((await c.create('billing.plan', 5)).statusCode, 403, 'read-only before invalid')
  t.equal((await c.create('theme', big)).statusCode, 413, 'too large before invalid')
})

t.test('values stored before a schema existed come back as stored from the plain endpoints', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(() => db.destroy())
  const before = await build(t, { plugin: { database: db } })
  const created = await client(before.app, token(1)).create('theme', 'blue')
  t.equal(created.statusCode, 201)

  const after = await build(t, { plugin: { database: db, keys: KEYS } })
  const c = client(after.app, token(1))
  t.equal((await c.request('GET', '/user/1/preference/by-key/theme/')).json().value, 'blue')
  t.equal((await c.request('GET', `/user/1/preference/${created.json().id as number}/`)).json().value, 'blue')
  t.same((await c.request('GET', '/user/1/preference/')).json().results.map((p: { value: unknown }) => p.value), ['blue'])
  t.equal((await after.app.inject({ url: `${PREFIX}/user/1/preference/by-key/theme/`, headers: bearer(adminToken()) })).statusCode, 200)
})
