import t from 'tap'
import { adminToken, bearer, build, client, PREFIX, token, type TestApp } from './helper.js'

const MERGE = { 'content-type': 'application/merge-patch+json' }

/** A merge patch as user `userId` (default 1) on its own collection. */
const patchAs = (app: TestApp['app'], body: unknown, userId = 1, headers: Record<string, string> = MERGE) =>
  app.inject({
    method: 'PATCH',
    url: `${PREFIX}/user/${userId}/preference/`,
    headers: { ...bearer(token(userId)), ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body)
  })

/** key -> stored JSON text, for "the database afterwards". */
async function stored ({ rows }: TestApp): Promise<Record<string, string>> {
  return Object.fromEntries((await rows()).map((r) => [`${r.user_id}:${r.key}`, r.value]))
}

t.test('create, update and delete in one call: 200 {results, deleted}', async (t) => {
  const test = await build(t)
  const c = client(test.app, token(1))
  const a = (await c.create('a', 1)).json()
  await c.create('b', 'keep')
  await c.create('c', 3)

  const res = await patchAs(test.app, { a: 2, d: { new: true }, c: null })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body), ['results', 'deleted'])
  t.same(body.results.map((p: { key: string, value: unknown }) => [p.key, p.value]), [['a', 2], ['d', { new: true }]],
    'created and updated ones, in patch order')
  t.equal(body.results[0].id, a.id, 'an update keeps the id')
  t.equal(body.results[0].created_at, a.created_at)
  t.match(body.results[1], { user_id: 1, key: 'd' })
  t.same(body.deleted, ['c'])
  t.same(await stored(test), { '1:a': '2', '1:b': '"keep"', '1:d': '{"new":true}' })
})

t.test('objects merge into stored objects (RFC 7396), nested nulls remove, key order kept', async (t) => {
  const test = await build(t)
  const c = client(test.app, token(1))
  await c.create('theme', { mode: 'dark', font: { size: 12, family: 'mono', weight: 400 }, accent: 'blue', list: [1, 2] })
  await c.create('scalar', 'text')
  await c.create('array', [1, 2, 3])

  const res = await patchAs(test.app, {
    theme: { font: { size: 14, family: null, ligatures: true }, accent: null, list: [3], added: { x: 1 } },
    scalar: { now: 'an object', gone: null },
    array: { a: 1 },
    fresh: { keep: 1, drop: null, deep: { drop: null } },
    plain: [null, { a: null }]
  })
  t.equal(res.statusCode, 200)
  t.same(await stored(test), {
    '1:theme': '{"mode":"dark","font":{"size":14,"weight":400,"ligatures":true},"list":[3],"added":{"x":1}}',
    '1:scalar': '{"now":"an object"}',
    '1:array': '{"a":1}',
    '1:fresh': '{"keep":1,"deep":{}}',
    '1:plain': '[null,{"a":null}]'
  }, 'stored exactly so: members keep their place, new ones follow; arrays replace')
  t.equal(JSON.stringify(res.json().results[0].value),
    '{"mode":"dark","font":{"size":14,"weight":400,"ligatures":true},"list":[3],"added":{"x":1}}')
})

t.test('empty objects: {"new": {}} creates new as {}; {"obj": {}} leaves obj\'s value as it is', async (t) => {
  const test = await build(t)
  const c = client(test.app, token(1))
  const obj = (await c.create('obj', { a: 1, b: [true] })).json()

  const res = await patchAs(test.app, { new: {}, obj: {} })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(body.deleted, [], 'nothing deleted')
  t.same(body.results.map((p: { key: string, value: unknown }) => [p.key, p.value]), [['new', {}], ['obj', { a: 1, b: [true] }]])
  t.match(body.results[1], { id: obj.id, created_at: obj.created_at }, 'obj is the same preference')
  t.same(await stored(test), { '1:obj': '{"a":1,"b":[true]}', '1:new': '{}' })
})

t.test('`deleted` lists only keys that existed; another user\'s keys are untouched', async (t) => {
  const test = await build(t)
  await client(test.app, token(1)).create('a', 1)
  await client(test.app, token(2)).create('ghost', 2)
  const res = await patchAs(test.app, { ghost: null, a: null, never: null })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { results: [], deleted: ['a'] })
  t.same(await stored(test), { '2:ghost': '2' })
})

t.test('{} changes nothing: 200 with empty lists', async (t) => {
  const test = await build(t)
  await client(test.app, token(1)).create('a', 1)
  const before = await test.rows()
  const res = await patchAs(test.app, {})
  t.equal(res.statusCode, 200)
  t.same(res.json(), { results: [], deleted: [] })
  t.same(await test.rows(), before)
})

t.test('an invalid key anywhere: 400 naming it, nothing written', async (t) => {
  const test = await build(t)
  await client(test.app, token(1)).create('a', 1)
  const before = await test.rows()
  const cases: Array<[string, string]> = [
    ['a\u0001b', 'a\\u0001b'],
    ['', '""'],
    ['x'.repeat(256), 'x'.repeat(64)],
    ['tab\there', 'tab\\there']
  ]
  for (const [key, named] of cases) {
    const res = await patchAs(test.app, { a: 2, new: 1, [key]: 1, later: null })
    t.equal(res.statusCode, 400, JSON.stringify(key).slice(0, 20))
    t.equal(res.json().code, 'PREFERENCE_VALIDATION_FAILED')
    t.ok(res.json().message.includes(named), `message names the key: ${res.json().message.slice(0, 90)}`)
  }
  t.same(await test.rows(), before)
})

t.test('an oversized value anywhere, also after merging: 413 naming the key, nothing written', async (t) => {
  const test = await build(t, { plugin: { maxValueBytes: 50 } })
  const c = client(test.app, token(1))
  await c.create('obj', { a: 'x'.repeat(30) })
  await c.create('del', 1)
  const before = await test.rows()

  const direct = await patchAs(test.app, { first: 1, del: null, big: 'y'.repeat(60) })
  t.equal(direct.statusCode, 413)
  t.equal(direct.json().code, 'PREFERENCE_VALUE_TOO_LARGE')
  t.match(direct.json().message, /"big"/)

  // {"a":"x...x"} is 38 bytes and the patch alone 16; merged they are 53.
  const merged = await patchAs(test.app, { del: null, obj: { b: 'z'.repeat(8) } })
  t.equal(merged.statusCode, 413)
  t.match(merged.json().message, /"obj"/)
  t.same(await test.rows(), before)

  const fits = await patchAs(test.app, { obj: { b: 'z'.repeat(5) } })
  t.equal(fits.statusCode, 200, '50 bytes exactly')
})

t.test('the per-user limit counts the state after the patch; over it: 409 naming the key', async (t) => {
  const test = await build(t, { plugin: { maxPreferencesPerUser: 3 } })
  const c = client(test.app, token(1))
  await c.create('a', 1)
  await c.create('b', 1)
  const before = await test.rows()

  const over = await patchAs(test.app, { a: 2, c: 1, d: 1, e: 1 })
  t.equal(over.statusCode, 409)
  t.equal(over.json().code, 'PREFERENCE_LIMIT_REACHED')
  t.match(over.json().message, /"d"/, 'the first key that does not fit')
  t.same(await test.rows(), before, 'nothing written, not even the update')

  const swap = await patchAs(test.app, { a: null, b: null, c: 1, d: 1, e: 1 })
  t.equal(swap.statusCode, 200, 'deletions in the same patch make room')
  t.same(swap.json().deleted, ['a', 'b'])
  t.same(Object.keys(await stored(test)), ['1:c', '1:d', '1:e'])
  t.equal((await patchAs(test.app, { c: 2, d: 2 })).statusCode, 200, 'updates at the limit are fine')
})

t.test('bodies: only a JSON object; other content types 415; merge-patch elsewhere 415', async (t) => {
  const test = await build(t)
  await client(test.app, token(1)).create('a', 1)
  const before = await test.rows()
  for (const [body, code] of [['[{"a":1}]', 'PREFERENCE_VALIDATION_FAILED'], ['null', 'PREFERENCE_VALIDATION_FAILED'],
    ['"text"', 'PREFERENCE_VALIDATION_FAILED'], ['1', 'PREFERENCE_VALIDATION_FAILED'], ['{"a":', 'PREFERENCE_MALFORMED_BODY'],
    ['', 'PREFERENCE_MALFORMED_BODY']]) {
    const res = await patchAs(test.app, body)
    t.equal(res.statusCode, 400, `body ${body}`)
    t.equal(res.json().code, code, `body ${JSON.stringify(body)}`)
  }
  for (const type of ['application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
    const res = await patchAs(test.app, { a: 2 }, 1, { 'content-type': type })
    t.equal(res.statusCode, 415, type)
    t.equal(res.json().code, 'PREFERENCE_UNSUPPORTED_MEDIA_TYPE')
    t.match(res.json().message, /application\/merge-patch\+json/, 'says what to send')
  }
  const c = client(test.app, token(1))
  const id = before[0].id
  for (const [method, path] of [['POST', '/user/1/preference/'], ['PATCH', `/user/1/preference/${id}/`],
    ['PUT', `/user/1/preference/${id}/`]] as const) {
    const res = await c.request(method, path, { key: 'a', value: 2 }, MERGE)
    t.equal(res.statusCode, 415, `${method} ${path}`)
    t.equal(res.json().code, 'PREFERENCE_UNSUPPORTED_MEDIA_TYPE')
  }
  t.same(await test.rows(), before)
  const charset = await patchAs(test.app, { a: 3 }, 1, { 'content-type': 'application/merge-patch+json; charset=utf-8' })
  t.equal(charset.statusCode, 200, 'a charset parameter is fine')
})

t.test('auth: 401, 403 before the body is read, `me`, admin, trailing slash optional', async (t) => {
  const test = await build(t)
  const none = await test.app.inject({ method: 'PATCH', url: `${PREFIX}/user/1/preference/`, headers: MERGE, payload: '{}' })
  t.equal(none.statusCode, 401)
  const other = await test.app.inject({
    method: 'PATCH', url: `${PREFIX}/user/2/preference/`, headers: { ...bearer(token(1)), ...MERGE }, payload: '{not json'
  })
  t.equal(other.statusCode, 403)
  const me = await test.app.inject({
    method: 'PATCH', url: `${PREFIX}/user/me/preference`, headers: { ...bearer(token(4)), ...MERGE }, payload: '{"k":1}'
  })
  t.equal(me.statusCode, 200)
  t.equal(me.json().results[0].user_id, 4)
  const admin = await test.app.inject({
    method: 'PATCH', url: `${PREFIX}/user/4/preference/`, headers: { ...bearer(adminToken()), ...MERGE }, payload: '{"k":2}'
  })
  t.equal(admin.statusCode, 200)
  t.same(await stored(test), { '4:k': '2' })
})

t.test('member names are plain data: "__proto__" and "constructor" are ordinary keys', async (t) => {
  const test = await build(t)
  await client(test.app, token(1)).create('obj', { keep: 1 })
  const res = await patchAs(test.app, '{"__proto__": {"polluted": true}, "obj": {"__proto__": {"x": 1}, "constructor": 2}}')
  t.equal(res.statusCode, 200)
  t.same(await stored(test), {
    '1:obj': '{"keep":1,"__proto__":{"x":1},"constructor":2}',
    '1:__proto__': '{"polluted":true}'
  })
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('a value nested too deeply to merge is a 400, not a 500', async (t) => {
  const test = await build(t)
  const deep = '{"k":' + '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000) + '}'
  const res = await patchAs(test.app, deep)
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'PREFERENCE_MALFORMED_BODY')
  // Refused while parsing (the body nests beyond MAX_JSON_DEPTH), before any key is looked at.
  t.match(res.json().message, /nested/)
  t.same(await test.rows(), [])
})
