import t from 'tap'
import { bearer, build, PREFIX, token, type TestApp } from './helper.js'

// Bodies are UTF-8. Bytes that are not (a lone 0xFF, a CESU-8 surrogate, an overlong form) are
// a 400 PREFERENCE_MALFORMED_BODY: decoding them to U+FFFD would make different byte strings
// one key.

const JSON_TYPE = 'application/json'
const FORM = 'application/x-www-form-urlencoded'

const send = (app: TestApp['app'], method: 'POST' | 'PUT' | 'PATCH', path: string, contentType: string, payload: Buffer | string) =>
  app.inject({ method, url: `${PREFIX}${path}`, headers: { ...bearer(token(1)), 'content-type': contentType }, payload })

/** `before`, the bytes, then `after`, as one Buffer. */
const bytes = (before: string, raw: number[], after: string) =>
  Buffer.concat([Buffer.from(before), Buffer.from(raw), Buffer.from(after)])

const INVALID = [
  ['0xFF 0xFE', [0xff, 0xfe]],
  ['a CESU-8 surrogate', [0xed, 0xa0, 0x80]],
  ['an overlong "/"', [0xc0, 0xaf]],
  ['a truncated sequence', [0xe2, 0x82]],
  ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]]
] as const

t.test('JSON bodies that are not UTF-8: 400 PREFERENCE_MALFORMED_BODY on every route, nothing written', async (t) => {
  const { app, rows } = await build(t)
  const existing = await send(app, 'POST', '/user/1/preference/', JSON_TYPE, '{"key":"existing","value":1}')
  t.equal(existing.statusCode, 201)
  const id = existing.json().id
  const before = await rows()
  for (const [what, raw] of INVALID) {
    const cases = [
      ['POST', '/user/1/preference/', JSON_TYPE, bytes('{"key":"bad-', [...raw], '","value":1}')],
      ['POST', '/user/1/preference/', JSON_TYPE, bytes('{"key":"k","value":"', [...raw], '"}')],
      ['PATCH', `/user/1/preference/${id}/`, JSON_TYPE, bytes('{"key":"', [...raw], '"}')],
      ['PUT', `/user/1/preference/${id}/`, JSON_TYPE, bytes('{"key":"existing","value":["', [...raw], '"]}')],
      ['PUT', '/user/1/preference/by-key/existing/', JSON_TYPE, bytes('{"value":"', [...raw], '"}')],
      ['PATCH', '/user/1/preference/', 'application/merge-patch+json', bytes('{"', [...raw], '":1}')],
      ['POST', '/user/1/preference/', FORM, bytes('{"key":"', [...raw], '","value":1}')],
      ['POST', '/user/1/preference/', FORM, bytes('key=', [...raw], '&value=1')]
    ] as const
    for (const [method, path, type, payload] of cases) {
      const res = await send(app, method, path, type, payload)
      const name = `${what}: ${method} ${path} (${type})`
      t.equal(res.statusCode, 400, name)
      t.same(res.json(), { statusCode: 400, code: 'PREFERENCE_MALFORMED_BODY', error: 'Bad Request', message: 'The body is not valid UTF-8' }, name)
    }
  }
  t.same(await rows(), before, 'nothing was written')
})

t.test('form fields that percent-decode to bytes that are not UTF-8: 400, nothing written', async (t) => {
  const { app, rows } = await build(t)
  for (const [what, raw] of INVALID) {
    const encoded = raw.map((b) => `%${b.toString(16).toUpperCase()}`).join('')
    for (const payload of [`key=bad-${encoded}&value=1`, `key=k&value=%22${encoded}%22`, `${encoded}=1&key=k&value=1`]) {
      const res = await send(app, 'POST', '/user/1/preference/', FORM, payload)
      t.equal(res.statusCode, 400, `${what}: ${payload}`)
      t.same(res.json(), {
        statusCode: 400, code: 'PREFERENCE_MALFORMED_BODY', error: 'Bad Request', message: 'The form body is not valid UTF-8 once percent-decoded'
      }, `${what}: ${payload}`)
    }
  }
  t.same(await rows(), [])
})

t.test('valid UTF-8 is stored exactly, U+FFFD sent as itself included', async (t) => {
  const { app, rows } = await build(t)
  const json = await send(app, 'POST', '/user/1/preference/', JSON_TYPE, Buffer.from('{"key":"é😀\ufffd","value":"ü"}'))
  t.equal(json.statusCode, 201)
  t.match(json.json(), { key: 'é😀\ufffd', value: 'ü' })
  const form = await send(app, 'POST', '/user/1/preference/', FORM,
    `key=${encodeURIComponent('ß+€')}+x&value=${encodeURIComponent('"😀"')}&note=100%+sure`)
  t.equal(form.statusCode, 201)
  t.match(form.json(), { key: 'ß+€ x', value: '😀' }, 'percent escapes, "+" as a space, a "%" without hex digits ignored')
  t.same((await rows()).map((r) => [r.key, r.value]), [['é😀\ufffd', '"ü"'], ['ß+€ x', '"😀"']])
})

t.test('a byte order mark is not JSON: 400, as before', async (t) => {
  const { app, rows } = await build(t)
  const res = await send(app, 'POST', '/user/1/preference/', JSON_TYPE, bytes('', [0xef, 0xbb, 0xbf], '{"key":"bom","value":1}'))
  t.equal(res.statusCode, 400)
  t.same(res.json(), { statusCode: 400, code: 'PREFERENCE_MALFORMED_BODY', error: 'Bad Request', message: 'The body is not valid JSON' })
  t.same(await rows(), [])
})
