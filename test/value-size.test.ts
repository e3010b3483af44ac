import t from 'tap'
import { bearer, build, client, PREFIX, token } from './helper.js'

// maxValueBytes bounds what is stored. A value is kept as the JSON text the client sent (less
// whitespace), so that text is what counts, and never less than the JSON.stringify encoding.
// Two shapes whose text is far longer than their JSON.stringify: a number spelled with 900 KB
// of zeros (JSON.stringify: "1"), and 60,000 \u0061 escapes (360 KB sent, "aaa..." 60 KB).

const ZEROS = `1.${'0'.repeat(900_000)}`
const ESCAPES = `"${'\\u0061'.repeat(60_000)}"`
const SHAPES = [['900 KB of zeros', ZEROS], ['60,000 \\u0061 escapes', ESCAPES]] as const

t.test('every write route counts the stored text: 413 PREFERENCE_VALUE_TOO_LARGE, nothing written', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const existing = (await c.create('existing', 'before')).json()
  const before = await rows()
  for (const [shape, text] of SHAPES) {
    const bytes = Buffer.byteLength(text)
    const writes = [
      ['POST', '/user/me/preference/', `{"key":"new","value":${text}}`],
      ['PATCH', `/user/me/preference/${existing.id}/`, `{"value":${text}}`],
      ['PUT', `/user/me/preference/${existing.id}/`, `{"key":"existing","value":${text}}`],
      ['PUT', '/user/me/preference/by-key/existing/', `{"value":${text}}`],
      ['PUT', '/user/me/preference/by-key/new/', `{"value":${text}}`]
    ] as const
    for (const [method, path, body] of writes) {
      const res = await c.request(method, path, body)
      const what = `${shape}: ${method} ${path}`
      t.equal(res.statusCode, 413, what)
      t.equal(res.json().code, 'PREFERENCE_VALUE_TOO_LARGE', what)
      t.equal(res.json().message, `The value is ${bytes} bytes as compact JSON; the limit is 65536`, what)
    }
    // The same value as a form field.
    const form = await app.inject({
      method: 'POST',
      url: `${PREFIX}/user/me/preference/`,
      headers: { ...bearer(token(1)), 'content-type': 'application/x-www-form-urlencoded' },
      payload: `key=form&value=${encodeURIComponent(text)}`
    })
    t.equal(form.statusCode, 413, `${shape}: a form body`)
    t.equal(form.json().code, 'PREFERENCE_VALUE_TOO_LARGE')
  }
  t.same(await rows(), before, 'nothing was written')
})

t.test('at the limit: the sent text decides, and so does a longer JSON.stringify encoding', async (t) => {
  const { app, rows } = await build(t, { plugin: { maxValueBytes: 20 } })
  const c = client(app, token(1))
  // 18 characters of text that JSON.stringify turns into 1, 3 bytes.
  const fits = await c.request('POST', '/user/me/preference/', '{"key":"fits","value":1.0000000000000000}')
  t.equal(fits.statusCode, 201, 'a text of 18 bytes')
  const over = await c.request('POST', '/user/me/preference/', '{"key":"over","value":1.000000000000000000000}')
  t.equal(over.statusCode, 413, 'a text of 23 bytes, whatever JSON.stringify makes of it')
  t.match(over.json(), { code: 'PREFERENCE_VALUE_TOO_LARGE', message: 'The value is 23 bytes as compact JSON; the limit is 20' })
  // "\u00e9\u00e9" is 14 bytes of text, 6 as JSON.stringify writes it ("éé").
  t.equal((await c.request('POST', '/user/me/preference/', '{"key":"esc","value":"\\u00e9\\u00e9\\u00e9"}')).statusCode, 201, '20 bytes exactly')
  t.equal((await c.request('POST', '/user/me/preference/', '{"key":"esc2","value":"\\u00e9\\u00e9\\u00e9a"}')).statusCode, 413, '21 bytes')
  // [1e300,1e300,1e300] is 19 bytes as sent; JSON.stringify writes 1e+300: 22 bytes.
  const longer = await c.request('POST', '/user/me/preference/', '{"key":"exp","value":[1e300,1e300,1e300]}')
  t.equal(longer.statusCode, 413, 'never less than the JSON.stringify encoding')
  t.match(longer.json().message, /22 bytes/)
  // Whitespace between tokens is not stored and does not count.
  t.equal((await c.request('POST', '/user/me/preference/', '{"key":"ws","value":[ 1 , 2 , 3 , 4 , 5 , 6 , 7 , 8 ]}')).statusCode, 201)
  t.same((await rows()).map((r) => [r.key, r.value]), [['fits', '1.0000000000000000'], ['esc', '"\\u00e9\\u00e9\\u00e9"'], ['ws', '[1,2,3,4,5,6,7,8]']])
})

t.test('merge patch: the merged result is what is stored, and what counts', async (t) => {
  const test = await build(t)
  const patch = (body: string) => test.app.inject({
    method: 'PATCH',
    url: `${PREFIX}/user/1/preference/`,
    headers: { ...bearer(token(1)), 'content-type': 'application/merge-patch+json' },
    payload: body
  })
  // A merge patch stores JSON.stringify of the merged value: these two are small once stored.
  for (const [key, text] of [['zeros', ZEROS], ['escapes', ESCAPES]]) {
    const res = await patch(`{"${key}":${text}}`)
    t.equal(res.statusCode, 200, key)
    t.same(res.json().results.map((p: { key: string }) => p.key), [key])
  }
  t.same((await test.rows()).map((r) => [r.key, r.value.length]), [['zeros', 1], ['escapes', 60_002]],
    'stored as JSON.stringify wrote them: "1" and 60,000 a\'s')

  const before = await test.rows()
  // 70,000 escapes are 70,002 bytes once stored: over the limit.
  const over = await patch(`{"fresh":1,"escapes":"${'\\u0061'.repeat(70_000)}"}`)
  t.equal(over.statusCode, 413)
  t.match(over.json(), { code: 'PREFERENCE_VALUE_TOO_LARGE', message: 'The value of "escapes" is 70002 bytes as compact JSON; the limit is 65536' })
  t.same(await test.rows(), before, 'all or nothing: "fresh" was not written either')
})
