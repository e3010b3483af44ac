import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { adminToken, build, client, type Client, PREFIX, type StoredRow, token } from './helper.js'

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const ERROR_KEYS = ['code', 'error', 'message', 'statusCode']
const PREFERENCE_KEYS = ['created_at', 'id', 'key', 'last_updated_at', 'user_id', 'value']
const METHODS = ['GET', 'PATCH', 'PUT', 'DELETE'] as const

type Assert = Test

interface Preference {
  id: number
  user_id: number
  key: string
  value: unknown
  created_at: string
  last_updated_at: string
}

function assertError (t: Assert, res: LightMyRequestResponse, statusCode: number, code: string, name = code): void {
  t.equal(res.statusCode, statusCode, `${name}: status`)
  t.match(res.headers['content-type'], /^application\/json/, `${name}: JSON`)
  const body = res.json()
  t.same(Object.keys(body).sort(), ERROR_KEYS, `${name}: exactly the error keys`)
  t.equal(body.statusCode, statusCode, `${name}: statusCode in body`)
  t.equal(body.code, code, `${name}: code`)
  t.type(body.error, 'string', `${name}: error`)
  t.type(body.message, 'string', `${name}: message`)
  t.notMatch(res.body, /\bSELECT\b|sqlite|\bat \S+ \(|\.[cm]?[jt]s:\d+/i, `${name}: no SQL or stack frames`)
}

function assertPreference (t: Assert, res: LightMyRequestResponse, expected: Partial<Preference>, name: string): Preference {
  t.equal(res.statusCode, 200, `${name}: status`)
  const body = res.json() as Preference
  t.same(Object.keys(body).sort(), PREFERENCE_KEYS, `${name}: the Preference fields`)
  t.match(body.created_at, ISO_MS, `${name}: created_at format`)
  t.match(body.last_updated_at, ISO_MS, `${name}: last_updated_at format`)
  t.ok(body.last_updated_at >= body.created_at, `${name}: last_updated_at >= created_at`)
  for (const [field, value] of Object.entries(expected)) {
    t.same(body[field as keyof Preference], value, `${name}: ${field}`)
  }
  if ('value' in expected) {
    t.equal(JSON.stringify(body.value), JSON.stringify(expected.value), `${name}: value, key order included`)
  }
  return body
}

async function create (t: Assert, c: Client, key: string, value: unknown, userId: number | string = 'me'): Promise<Preference> {
  const res = await c.create(key, value, userId)
  t.equal(res.statusCode, 201, `create ${key}`)
  return res.json() as Preference
}

/** Each stored row as plain data, for "nothing changed" comparisons. */
async function snapshot (rows: () => Promise<StoredRow[]>): Promise<StoredRow[]> {
  return rows()
}

const item = (userId: number | string, id: number | string, slash = true) =>
  `/user/${userId}/preference/${id}${slash ? '/' : ''}`

t.test('GET one preference', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const created = await create(t, c, 'theme', { mode: 'dark', a: [1, null] }, 1)
  for (const path of [item(1, created.id), item(1, created.id, false), item('me', created.id), item('me', created.id, false)]) {
    const res = await c.request('GET', path)
    const body = assertPreference(t, res, {
      id: created.id, user_id: 1, key: 'theme', value: { mode: 'dark', a: [1, null] }
    }, `GET ${path}`)
    t.same(body, created, `${path}: same as the create response`)
  }
})

t.test('GET of a missing id, or of another user\'s id, is 404 PREFERENCE_NOT_FOUND', async (t) => {
  const { app } = await build(t)
  const one = client(app, token(1))
  const two = client(app, token(2))
  const mine = await create(t, one, 'mine', 1)
  const theirs = await create(t, two, 'theirs', 2)

  assertError(t, await one.request('GET', item(1, mine.id + 100)), 404, 'PREFERENCE_NOT_FOUND', 'missing id')
  assertError(t, await one.request('GET', item(1, theirs.id)), 404, 'PREFERENCE_NOT_FOUND', 'user 2\'s id on user 1\'s path')
  assertError(t, await one.request('GET', item('me', theirs.id)), 404, 'PREFERENCE_NOT_FOUND', 'user 2\'s id via me')
  const admin = client(app, adminToken())
  assertError(t, await admin.request('GET', item(2, mine.id)), 404, 'PREFERENCE_NOT_FOUND', 'admin: user 1\'s id on user 2\'s path')
  // Missing and someone else's look exactly alike.
  const missing = await one.request('GET', item(1, mine.id + 100))
  const foreign = await one.request('GET', item(1, theirs.id))
  t.same(foreign.json(), missing.json(), 'nothing reveals that another user\'s preference exists')
})

t.test('PATCH the key only, the value only, or both', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', { mode: 'dark' })
  const path = item(1, p.id)

  const keyOnly = await c.request('PATCH', path, { key: 'colours' })
  assertPreference(t, keyOnly, { id: p.id, user_id: 1, key: 'colours', value: { mode: 'dark' }, created_at: p.created_at }, 'key only')
  t.same((await snapshot(rows)).map((r) => [r.id, r.key, r.value]), [[p.id, 'colours', '{"mode":"dark"}']])

  for (const value of [null, false, 0, '', [], {}, { z: 1, a: { y: 2, b: 3 } }, 'text']) {
    const res = await c.request('PATCH', path, { value })
    assertPreference(t, res, { id: p.id, key: 'colours', value }, `value only: ${JSON.stringify(value)}`)
    const [row] = await rows()
    t.equal(row.value, JSON.stringify(value), `stored ${JSON.stringify(value)}`)
    t.equal(row.key, 'colours')
    const read = await c.request('GET', path)
    t.equal(JSON.stringify(read.json().value), JSON.stringify(value), `read back ${JSON.stringify(value)}`)
  }

  const both = await c.request('PATCH', path, { key: 'theme', value: { mode: 'light' } })
  assertPreference(t, both, { id: p.id, key: 'theme', value: { mode: 'light' }, created_at: p.created_at }, 'both')
  t.same((await snapshot(rows)).map((r) => [r.id, r.key, r.value]), [[p.id, 'theme', '{"mode":"light"}']])
})

t.test('an empty PATCH is 400 PREFERENCE_EMPTY_PATCH and changes nothing', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', 1)
  const before = await snapshot(rows)
  for (const body of [{}, { other: 1 }, { id: 5, user_id: 2, created_at: '2000-01-01T00:00:00.000Z' }]) {
    for (const slash of [true, false]) {
      assertError(t, await c.request('PATCH', item(1, p.id, slash), body), 400, 'PREFERENCE_EMPTY_PATCH', JSON.stringify(body))
    }
  }
  t.same(await snapshot(rows), before)
})

t.test('PATCH renaming to an existing key is 409 and changes nothing; to its own key works', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const a = await create(t, c, 'a', 1)
  const b = await create(t, c, 'b', 2)
  await create(t, client(app, token(2)), 'c', 3)
  const before = await snapshot(rows)
  await sleep(5)

  assertError(t, await c.request('PATCH', item(1, b.id), { key: 'a' }), 409, 'PREFERENCE_KEY_EXISTS', 'rename')
  assertError(t, await c.request('PATCH', item(1, b.id), { key: 'a', value: 99 }), 409, 'PREFERENCE_KEY_EXISTS', 'rename with value')
  t.same(await snapshot(rows), before, 'nothing changed, not even last_updated_at')

  const same = await c.request('PATCH', item(1, a.id), { key: 'a', value: 10 })
  assertPreference(t, same, { id: a.id, key: 'a', value: 10 }, 'rename to its own key')
  const renamed = await c.request('PATCH', item(1, b.id), { key: 'c' })
  assertPreference(t, renamed, { id: b.id, key: 'c', value: 2 }, 'another user\'s key is free')
  t.same((await snapshot(rows)).map((r) => [r.user_id, r.key, r.value]), [[1, 'a', '10'], [1, 'c', '2'], [2, 'c', '3']])
})

t.test('PATCH with a bad body is a 400 that changes nothing', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', 1)
  const before = await snapshot(rows)
  const cases: Array<[string, unknown]> = [
    ['numeric key', { key: 5 }],
    ['numeric key with value', { key: 5, value: 1 }],
    ['null key', { key: null }],
    ['empty key', { key: '' }],
    ['256-character key', { key: 'x'.repeat(256) }],
    ['control character', { key: 'a\nb' }],
    ['array body', [{ key: 'k' }]],
    ['null body', null]
  ]
  for (const [name, body] of cases) {
    assertError(t, await c.request('PATCH', item(1, p.id), JSON.stringify(body)), 400, 'PREFERENCE_VALIDATION_FAILED', name)
  }
  assertError(t, await c.request('PATCH', item(1, p.id), '{"value":'), 400, 'PREFERENCE_MALFORMED_BODY', 'invalid JSON')
  assertError(t, await c.request('PATCH', item(1, p.id), ''), 400, 'PREFERENCE_MALFORMED_BODY', 'an empty body')
  assertError(t, await c.request('PUT', item(1, p.id), ''), 400, 'PREFERENCE_MALFORMED_BODY', 'an empty body on PUT')
  t.same(await snapshot(rows), before)
})

t.test('an oversized value is 413 on PATCH and PUT and changes nothing', async (t) => {
  const { app, rows } = await build(t, { plugin: { maxValueBytes: 50 } })
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', 1)
  const before = await snapshot(rows)
  // 'x'.repeat(49) is 51 bytes of compact JSON (with its quotes).
  assertError(t, await c.request('PATCH', item(1, p.id), { value: 'x'.repeat(49) }), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'PATCH')
  assertError(t, await c.request('PATCH', item(1, p.id), { key: 'renamed', value: 'x'.repeat(49) }), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'PATCH both')
  assertError(t, await c.request('PUT', item(1, p.id), { key: 'renamed', value: 'x'.repeat(49) }), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'PUT')
  t.same(await snapshot(rows), before)
  const fits = await c.request('PATCH', item(1, p.id), { value: 'x'.repeat(48) })
  assertPreference(t, fits, { value: 'x'.repeat(48) }, 'exactly 50 bytes')
})

t.test('PUT replaces key and value; both are required', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', { mode: 'dark', extra: true })
  const before = await snapshot(rows)
  for (const [name, body] of [['missing value', { key: 'theme' }], ['missing key', { value: 1 }], ['empty', {}],
    ['numeric key', { key: 5, value: 1 }], ['null key', { key: null, value: 1 }]] as const) {
    assertError(t, await c.request('PUT', item(1, p.id), body), 400, 'PREFERENCE_VALIDATION_FAILED', name)
  }
  t.same(await snapshot(rows), before)

  const replaced = await c.request('PUT', item(1, p.id), { key: 'look', value: { mode: 'light' } })
  assertPreference(t, replaced, { id: p.id, user_id: 1, key: 'look', value: { mode: 'light' }, created_at: p.created_at }, 'PUT')
  t.same((await snapshot(rows)).map((r) => [r.id, r.key, r.value]), [[p.id, 'look', '{"mode":"light"}']], 'not merged')

  const nulled = await c.request('PUT', item(1, p.id), { key: 'look', value: null })
  assertPreference(t, nulled, { key: 'look', value: null }, 'PUT value null, same key')
  t.equal((await rows())[0].value, 'null')
})

t.test('PUT never creates: a missing id is 404 and nothing is stored', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  for (const id of [1, 42]) {
    for (const slash of [true, false]) {
      assertError(t, await c.request('PUT', item(1, id, slash), { key: 'k', value: 1 }), 404, 'PREFERENCE_NOT_FOUND', `PUT ${id}`)
      assertError(t, await c.request('PATCH', item(1, id, slash), { key: 'k', value: 1 }), 404, 'PREFERENCE_NOT_FOUND', `PATCH ${id}`)
    }
  }
  t.same(await rows(), [])
  t.same((await c.request('GET', '/user/1/preference/')).json().count, 0)
})

t.test('PUT renaming to an existing key is 409 and changes nothing', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  await create(t, c, 'a', 1)
  const b = await create(t, c, 'b', 2)
  const before = await snapshot(rows)
  assertError(t, await c.request('PUT', item(1, b.id), { key: 'a', value: 3 }), 409, 'PREFERENCE_KEY_EXISTS', 'PUT rename')
  t.same(await snapshot(rows), before)
  assertPreference(t, await c.request('PUT', item(1, b.id), { key: 'b', value: 3 }), { key: 'b', value: 3 }, 'PUT to its own key')
})

t.test('read-only and unknown fields in PATCH and PUT bodies are ignored', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', 1)
  const readOnly = {
    id: p.id + 1000,
    user_id: 2,
    created_at: '2000-01-01T00:00:00.000Z',
    last_updated_at: '2000-01-01T00:00:00.000Z',
    extra: 'ignored'
  }
  await sleep(5)
  const patched = await c.request('PATCH', item(1, p.id), { ...readOnly, value: 2 })
  assertPreference(t, patched, { id: p.id, user_id: 1, key: 'theme', value: 2, created_at: p.created_at }, 'PATCH')
  t.not(patched.json().last_updated_at, readOnly.last_updated_at)
  const put = await c.request('PUT', item(1, p.id), { ...readOnly, key: 'theme2', value: 3 })
  assertPreference(t, put, { id: p.id, user_id: 1, key: 'theme2', value: 3, created_at: p.created_at }, 'PUT')
  t.not(put.json().last_updated_at, readOnly.last_updated_at)

  const stored = await snapshot(rows)
  t.equal(stored.length, 1)
  t.match(stored[0], { id: p.id, user_id: 1, key: 'theme2', value: '3', created_at: p.created_at })
  t.notOk('extra' in stored[0])
  t.same((await client(app, token(2)).request('GET', '/user/2/preference/')).json().count, 0, 'nothing moved to user 2')
})

t.test('timestamps: created_at never changes; last_updated_at moves on every update', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', 1)
  t.match(p.created_at, ISO_MS)
  t.equal(p.last_updated_at, p.created_at, 'equal at creation')

  const seen = [p.last_updated_at]
  const updates: Array<[string, unknown]> = [
    ['PATCH', { value: 2 }],
    ['PATCH', { key: 'theme2' }],
    ['PATCH', { value: 2 }], // the same value again is still an update
    ['PUT', { key: 'theme3', value: 4 }],
    ['PUT', { key: 'theme3', value: 4 }],
    ['PATCH', { key: 'theme3' }] // renaming to its own key
  ]
  for (const [method, body] of updates) {
    await sleep(5)
    const res = await c.request(method as 'PATCH' | 'PUT', item(1, p.id), body)
    const updated = assertPreference(t, res, { created_at: p.created_at }, `${method} ${JSON.stringify(body)}`)
    t.ok(updated.last_updated_at > seen[seen.length - 1], `${method} ${JSON.stringify(body)}: last_updated_at moved forward`)
    seen.push(updated.last_updated_at)
    const [row] = await rows()
    t.equal(row.created_at, p.created_at, 'stored created_at unchanged')
    t.equal(row.last_updated_at, updated.last_updated_at, 'stored last_updated_at is the one returned')
  }
  const read = await c.request('GET', item(1, p.id))
  assertPreference(t, read, { created_at: p.created_at, last_updated_at: seen[seen.length - 1] }, 'GET afterwards')

  // Failed updates do not touch it.
  await create(t, c, 'other', 1)
  await sleep(5)
  assertError(t, await c.request('PATCH', item(1, p.id), { key: 'other' }), 409, 'PREFERENCE_KEY_EXISTS')
  assertError(t, await c.request('PATCH', item(1, p.id), {}), 400, 'PREFERENCE_EMPTY_PATCH')
  t.equal((await rows())[0].last_updated_at, seen[seen.length - 1])
})

t.test('DELETE: 204 with no body, then 404', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', 1)
  const keep = await create(t, c, 'keep', 2)
  const res = await c.request('DELETE', item(1, p.id))
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal(res.headers['content-type'], undefined, 'no Content-Type on a 204')
  t.equal(res.headers['content-length'], undefined, 'no Content-Length on a 204')
  t.same((await snapshot(rows)).map((r) => r.id), [keep.id])
  assertError(t, await c.request('GET', item(1, p.id)), 404, 'PREFERENCE_NOT_FOUND', 'GET after DELETE')
  assertError(t, await c.request('DELETE', item(1, p.id)), 404, 'PREFERENCE_NOT_FOUND', 'DELETE again')
  assertError(t, await c.request('PATCH', item(1, p.id), { value: 3 }), 404, 'PREFERENCE_NOT_FOUND', 'PATCH after DELETE')
  assertError(t, await c.request('PUT', item(1, p.id), { key: 'theme', value: 3 }), 404, 'PREFERENCE_NOT_FOUND', 'PUT after DELETE')
  t.same((await snapshot(rows)).map((r) => r.id), [keep.id])

  // The key is free again, and the new preference gets a new id.
  const again = await create(t, c, 'theme', 3)
  t.not(again.id, p.id)
})

t.test('acting on another user\'s preference id through one\'s own path is 404 and changes nothing', async (t) => {
  const { app, rows } = await build(t)
  const one = client(app, token(1))
  const theirs = await create(t, client(app, token(2)), 'theirs', 2)
  await create(t, one, 'mine', 1)
  const before = await snapshot(rows)
  for (const userId of [1, 'me']) {
    assertError(t, await one.request('DELETE', item(userId, theirs.id)), 404, 'PREFERENCE_NOT_FOUND', `DELETE via ${userId}`)
    assertError(t, await one.request('PATCH', item(userId, theirs.id), { value: 9 }), 404, 'PREFERENCE_NOT_FOUND', `PATCH via ${userId}`)
    assertError(t, await one.request('PUT', item(userId, theirs.id), { key: 'x', value: 9 }), 404, 'PREFERENCE_NOT_FOUND', `PUT via ${userId}`)
  }
  const admin = client(app, adminToken())
  assertError(t, await admin.request('DELETE', item(1, theirs.id)), 404, 'PREFERENCE_NOT_FOUND', 'admin DELETE on the wrong user path')
  assertError(t, await admin.request('PATCH', item(1, theirs.id), { value: 9 }), 404, 'PREFERENCE_NOT_FOUND', 'admin PATCH on the wrong user path')
  t.same(await snapshot(rows), before, 'the row still exists, unchanged')
})

t.test('every item route works without the trailing slash', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const p = await create(t, c, 'theme', 1)
  const path = item(1, p.id, false)
  t.notOk(path.endsWith('/'))
  assertPreference(t, await c.request('GET', path), { id: p.id, key: 'theme', value: 1 }, 'GET')
  assertPreference(t, await c.request('PATCH', path, { value: 2 }), { id: p.id, key: 'theme', value: 2 }, 'PATCH')
  assertPreference(t, await c.request('PUT', path, { key: 'look', value: 3 }), { id: p.id, key: 'look', value: 3 }, 'PUT')
  const del = await c.request('DELETE', path)
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  t.same(await rows(), [])
})

t.test('a malformed id is 400 PREFERENCE_INVALID_PATH_PARAMETER', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  await create(t, c, 'theme', 1)
  const before = await snapshot(rows)
  const bodies = { GET: undefined, PATCH: { value: 2 }, PUT: { key: 'k', value: 2 }, DELETE: undefined }
  for (const id of ['abc', '0', '01', '-1', '1.5', '1e3', '%201', '99999999999999999999', '9007199254740992']) {
    for (const method of METHODS) {
      for (const slash of [true, false]) {
        const res = await c.request(method, item(1, id, slash), bodies[method])
        assertError(t, res, 400, 'PREFERENCE_INVALID_PATH_PARAMETER', `${method} ${item(1, id, slash)}`)
      }
    }
  }
  t.same(await snapshot(rows), before)
})

t.test('the largest safe integer id is well-formed: 404', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  await create(t, c, 'theme', 1)
  const before = await snapshot(rows)
  const bodies = { GET: undefined, PATCH: { value: 2 }, PUT: { key: 'k', value: 2 }, DELETE: undefined }
  for (const method of METHODS) {
    assertError(t, await c.request(method, item(1, '9007199254740991'), bodies[method]), 404, 'PREFERENCE_NOT_FOUND', method)
  }
  t.same(await snapshot(rows), before)
})

t.test('a non-admin acting on another user\'s path is 403 for every method, before the body', async (t) => {
  const { app, rows } = await build(t)
  const p = await create(t, client(app, token(1)), 'theme', 1)
  const two = client(app, token(2))
  const before = await snapshot(rows)
  const cases: Array<[typeof METHODS[number], unknown]> = [
    ['GET', undefined],
    ['PATCH', { value: 2 }],
    ['PATCH', {}], // an empty PATCH: still 403, the body is not looked at
    ['PATCH', { key: 5 }],
    ['PUT', { key: 'k', value: 2 }],
    ['PUT', { value: 2 }],
    ['PUT', '{"key":'],
    ['DELETE', undefined]
  ]
  for (const [method, body] of cases) {
    for (const slash of [true, false]) {
      const res = await two.request(method, item(1, p.id, slash), body)
      assertError(t, res, 403, 'PREFERENCE_FORBIDDEN', `${method} ${JSON.stringify(body)} slash=${slash}`)
    }
  }
  // Same answer for an id that does not exist: nothing is revealed.
  assertError(t, await two.request('GET', item(1, p.id + 100)), 403, 'PREFERENCE_FORBIDDEN', 'missing id')
  t.same(await snapshot(rows), before, 'rows unchanged')
})

t.test('an admin may GET, PATCH, PUT and DELETE another user\'s preference', async (t) => {
  const { app, rows } = await build(t)
  const p = await create(t, client(app, token(1)), 'theme', 1)
  const admin = client(app, adminToken())
  assertPreference(t, await admin.request('GET', item(1, p.id)), { id: p.id, user_id: 1, key: 'theme', value: 1 }, 'GET')
  assertPreference(t, await admin.request('PATCH', item(1, p.id), { value: 2 }), { id: p.id, user_id: 1, key: 'theme', value: 2 }, 'PATCH')
  assertPreference(t, await admin.request('PUT', item(1, p.id), { key: 'look', value: 3 }), { id: p.id, user_id: 1, key: 'look', value: 3 }, 'PUT')
  t.same((await snapshot(rows)).map((r) => [r.id, r.user_id, r.key, r.value]), [[p.id, 1, 'look', '3']], 'still user 1\'s')
  const role = client(app, token({ sub: 500, role: 'admin' }))
  assertPreference(t, await role.request('GET', item(1, p.id, false)), { id: p.id, user_id: 1 }, 'role: admin also works')
  const del = await admin.request('DELETE', item(1, p.id))
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  t.same(await rows(), [])
})

t.test('item routes need a token', async (t) => {
  const { app, rows } = await build(t)
  const p = await create(t, client(app, token(1)), 'theme', 1)
  for (const method of METHODS) {
    const res = await app.inject({ method, url: `${PREFIX}${item(1, p.id)}` })
    assertError(t, res, 401, 'PREFERENCE_AUTH_REQUIRED', method)
  }
  t.equal((await rows()).length, 1)
})
