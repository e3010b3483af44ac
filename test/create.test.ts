import t from 'tap'
import { adminToken, bearer, build, client, PREFIX, token } from './helper.js'

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('POST creates a preference: 201, the Preference, Location, a stored row', async (t) => {
  const { app, rows } = await build(t)
  const res = await client(app, token(7)).create('theme', { mode: 'dark', size: [1, 2] }, 7)
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.match(body, { user_id: 7, key: 'theme', value: { mode: 'dark', size: [1, 2] } })
  t.type(body.id, 'number')
  t.match(body.created_at, ISO_MS)
  t.equal(body.last_updated_at, body.created_at)
  t.equal(res.headers.location, `${PREFIX}/user/7/preference/${body.id}/`)
  t.same((await rows()).map((r) => [Number(r.id), Number(r.user_id), r.key, r.value]),
    [[body.id, 7, 'theme', '{"mode":"dark","size":[1,2]}']])
})

t.test('`me` creates for the caller and Location carries the real id', async (t) => {
  const { app } = await build(t)
  const res = await client(app, token(42)).create('k', 1, 'me')
  t.equal(res.statusCode, 201)
  t.equal(res.json().user_id, 42)
  t.equal(res.headers.location, `${PREFIX}/user/42/preference/${res.json().id}/`)
})

t.test('works without the trailing slash', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'POST', url: `${PREFIX}/user/1/preference`, headers: bearer(token(1)), payload: { key: 'a', value: 1 }
  })
  t.equal(res.statusCode, 201)
})

t.test('every JSON value type round-trips, key order included', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const values: unknown[] = [
    null, true, false, 0, -1.5, 1e21, 'text', '', 'üñí©ødé 😀', [], [1, 'two', null, { three: 3 }],
    {}, { z: 1, a: 2, m: { y: [], b: null } }, { 'dotted.key': { '': 'empty key' } }
  ]
  for (const [i, value] of values.entries()) {
    const created = await c.create(`k${i}`, value)
    t.equal(created.statusCode, 201, `create ${JSON.stringify(value)}`)
    t.equal(JSON.stringify(created.json().value), JSON.stringify(value), 'create response')
    const fetched = await c.request('GET', `/user/me/preference/${created.json().id}/`)
    t.equal(JSON.stringify(fetched.json().value), JSON.stringify(value), 'read back')
  }
})

t.test('an admin creates for another user', async (t) => {
  const { app } = await build(t)
  const res = await client(app, adminToken()).create('k', 'v', 5)
  t.equal(res.statusCode, 201)
  t.equal(res.json().user_id, 5)
  t.equal(res.headers.location, `${PREFIX}/user/5/preference/${res.json().id}/`)
})

t.test('read-only and unknown fields are ignored, never written', async (t) => {
  const { app, rows } = await build(t)
  const res = await client(app, token(1)).request('POST', '/user/1/preference/', {
    key: 'k',
    value: 1,
    id: 999,
    user_id: 2,
    created_at: '2000-01-01T00:00:00.000Z',
    last_updated_at: '2000-01-01T00:00:00.000Z',
    extra: true
  })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.not(body.id, 999)
  t.equal(body.user_id, 1)
  t.not(body.created_at, '2000-01-01T00:00:00.000Z')
  t.notOk('extra' in body)
  const [row] = await rows()
  t.equal(Number(row.user_id), 1)
  t.equal(row.value, '1')
})

t.test('a duplicate key is a 409 PREFERENCE_KEY_EXISTS; keys are case-sensitive', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  t.equal((await c.create('Theme', 1)).statusCode, 201)
  const dup = await c.create('Theme', 2)
  t.equal(dup.statusCode, 409)
  t.equal(dup.json().code, 'PREFERENCE_KEY_EXISTS')
  t.equal((await c.create('theme', 3)).statusCode, 201, 'different case is a different key')
  t.equal((await client(app, token(2)).create('Theme', 4)).statusCode, 201, 'another user may use the key')
  t.same((await rows()).map((r) => r.value), ['1', '3', '4'])
})

t.test('the per-user limit is a 409 PREFERENCE_LIMIT_REACHED', async (t) => {
  const { app, rows } = await build(t, { plugin: { maxPreferencesPerUser: 2 } })
  const c = client(app, token(1))
  t.equal((await c.create('a', 1)).statusCode, 201)
  t.equal((await c.create('b', 1)).statusCode, 201)
  const over = await c.create('c', 1)
  t.equal(over.statusCode, 409)
  t.equal(over.json().code, 'PREFERENCE_LIMIT_REACHED')
  t.equal((await c.create('a', 1)).json().code, 'PREFERENCE_KEY_EXISTS', 'a duplicate at the limit is still a duplicate')
  t.equal((await client(app, token(2)).create('c', 1)).statusCode, 201, 'the limit is per user')
  t.equal((await rows()).length, 3)
})

t.test('form bodies: fields with JSON text, or a whole JSON document', async (t) => {
  const { app, rows } = await build(t)
  const form = (payload: string) => app.inject({
    method: 'POST',
    url: `${PREFIX}/user/1/preference/`,
    headers: { ...bearer(token(1)), 'content-type': 'application/x-www-form-urlencoded' },
    payload
  })
  const fields = await form(`key=ui+tour&value=${encodeURIComponent('{"seen":true,"n":[1]}')}`)
  t.equal(fields.statusCode, 201)
  t.same(fields.json().value, { seen: true, n: [1] })
  t.equal(fields.json().key, 'ui tour')

  const doc = await form('{"key": "string", "value": "json"}')
  t.equal(doc.statusCode, 201, 'the original reference\'s curl example')
  t.same(doc.json().value, 'json')

  const notJson = await form('key=x&value=dark')
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.json().code, 'PREFERENCE_MALFORMED_BODY')
  const repeated = await form('key=a&key=b&value=1')
  t.equal(repeated.statusCode, 400)
  t.equal(repeated.json().code, 'PREFERENCE_VALIDATION_FAILED')
  // Any JSON passes as a value, so a list of two would have been stored: refused instead.
  const twoValues = await form('key=a&value=1&value=2')
  t.equal(twoValues.statusCode, 400)
  t.same(twoValues.json(), {
    statusCode: 400, code: 'PREFERENCE_VALIDATION_FAILED', error: 'Bad Request', message: 'The form field "value" is given more than once'
  })
  const badDoc = await form('{"key": ')
  t.equal(badDoc.statusCode, 400)
  t.equal(badDoc.json().code, 'PREFERENCE_MALFORMED_BODY')
  t.equal((await rows()).length, 2)

  // A whole JSON document after whitespace is still one.
  const spaced = await form(' \r\n\t{"key": "spaced", "value": [1.0]}')
  t.equal(spaced.statusCode, 201)
  t.match(spaced.json(), { key: 'spaced', value: [1] })
  t.same((await rows()).map((r) => [r.key, r.value]), [['ui tour', '{"seen":true,"n":[1]}'], ['string', '"json"'], ['spaced', '[1.0]']])
})

t.test('bad bodies are 400s that change nothing', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const cases: Array<[string, unknown]> = [
    ['missing key', { value: 1 }],
    ['missing value', { key: 'k' }],
    ['numeric key (no coercion)', { key: 5, value: 1 }],
    ['boolean key', { key: true, value: 1 }],
    ['null key', { key: null, value: 1 }],
    ['empty key', { key: '', value: 1 }],
    ['256-character key', { key: 'x'.repeat(256), value: 1 }],
    ['control character', { key: 'a\u0001b', value: 1 }],
    ['newline', { key: 'a\nb', value: 1 }],
    ['DEL', { key: 'a\u007fb', value: 1 }],
    ['NUL', { key: 'a\u0000b', value: 1 }],
    ['array body', [{ key: 'k', value: 1 }]],
    ['null body', null],
    ['string body', 'text']
  ]
  for (const [name, body] of cases) {
    const res = await c.request('POST', '/user/me/preference/', JSON.stringify(body))
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, 'PREFERENCE_VALIDATION_FAILED', name)
    t.type(res.json().message, 'string')
  }
  for (const raw of ['{"key":', '{key: 1}', ' ', '{"key":"a","value":1}x']) {
    const res = await c.request('POST', '/user/me/preference/', raw)
    t.equal(res.statusCode, 400, `invalid JSON ${JSON.stringify(raw)}`)
    t.same(res.json(), { statusCode: 400, code: 'PREFERENCE_MALFORMED_BODY', error: 'Bad Request', message: 'The body is not valid JSON' })
  }
  t.same(await rows(), [])
})

t.test('key length counts code points: 255 astral characters are fine', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const res = await c.create('😀'.repeat(255), 1)
  t.equal(res.statusCode, 201)
  t.equal(res.json().key, '😀'.repeat(255))
  t.equal((await c.create('😀'.repeat(256), 1)).statusCode, 400)
})

t.test('a value over maxValueBytes is a 413 that changes nothing', async (t) => {
  const { app, rows } = await build(t, { plugin: { maxValueBytes: 100 } })
  const c = client(app, token(1))
  // Compact JSON of this string is exactly 100 bytes: the quotes count.
  t.equal((await c.create('fits', 'x'.repeat(98))).statusCode, 201)
  const over = await c.create('over', 'x'.repeat(99))
  t.equal(over.statusCode, 413)
  t.equal(over.json().code, 'PREFERENCE_VALUE_TOO_LARGE')
  // Multi-byte characters count as UTF-8 bytes.
  t.equal((await c.create('utf8', 'é'.repeat(50))).statusCode, 413)
  // Whitespace in the request does not count: the compact encoding does.
  const spaced = await c.request('POST', '/user/me/preference/', `{"key":"spaced","value":[${' 1,'.repeat(30)} 1]}`)
  t.equal(spaced.statusCode, 201)
  t.same((await rows()).map((r) => r.key), ['fits', 'spaced'])
})

t.test('a body over the body limit is a 413', async (t) => {
  const { app, rows } = await build(t, { plugin: { bodyLimit: 1000 } })
  const res = await client(app, token(1)).create('k', 'x'.repeat(2000))
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'PREFERENCE_BODY_TOO_LARGE')
  t.same(await rows(), [])
})

t.test('the default value limit is 65536 bytes', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  t.equal((await c.create('max', 'x'.repeat(65534))).statusCode, 201)
  t.equal((await c.create('over', 'x'.repeat(65535))).statusCode, 413)
})

t.test('other content types are 415; an empty body, or none, is a 400 PREFERENCE_MALFORMED_BODY', async (t) => {
  const { app, rows } = await build(t)
  for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/merge-patch+json']) {
    const res = await app.inject({
      method: 'POST', url: `${PREFIX}/user/1/preference/`, headers: { ...bearer(token(1)), 'content-type': type }, payload: '{"key":"k","value":1}'
    })
    t.equal(res.statusCode, 415, type)
    t.equal(res.json().code, 'PREFERENCE_UNSUPPORTED_MEDIA_TYPE', type)
  }
  const empty = { statusCode: 400, code: 'PREFERENCE_MALFORMED_BODY', error: 'Bad Request', message: 'The body is empty' }
  const none = await app.inject({ method: 'POST', url: `${PREFIX}/user/1/preference/`, headers: bearer(token(1)) })
  t.same(none.json(), empty, 'no Content-Type and no body')
  for (const type of ['application/json', 'application/x-www-form-urlencoded']) {
    const res = await app.inject({
      method: 'POST', url: `${PREFIX}/user/1/preference/`, headers: { ...bearer(token(1)), 'content-type': type }, payload: ''
    })
    t.same(res.json(), empty, `an empty ${type} body`)
  }
  t.same(await rows(), [])
})
