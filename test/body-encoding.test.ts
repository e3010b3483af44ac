import t from 'tap'
import { gzipSync } from 'node:zlib'
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

t.test('a Content-Encoding other than identity: 415 PREFERENCE_UNSUPPORTED_CONTENT_ENCODING, nothing written', async (t) => {
  const { app, rows } = await build(t)
  const body = '{"key":"k","value":1}'
  const withEncoding = (encoding: string, payload: Buffer | string = body, path = '/user/1/preference/', type = JSON_TYPE) =>
    app.inject({
      method: path.endsWith('/preference/') && type.includes('merge') ? 'PATCH' : 'POST',
      url: `${PREFIX}${path}`,
      headers: { ...bearer(token(1)), 'content-type': type, 'content-encoding': encoding },
      payload
    })
  const refused = (encoding: string) => ({
    statusCode: 415,
    code: 'PREFERENCE_UNSUPPORTED_CONTENT_ENCODING',
    error: 'Unsupported Media Type',
    message: `Unsupported Content-Encoding ${JSON.stringify(encoding)}: send the body uncompressed (no Content-Encoding, or identity)`
  })
  // Labelled gzip but not compressed, and really compressed: both refused, and say why.
  t.same((await withEncoding('gzip')).json(), refused('gzip'), 'a plain body labelled gzip')
  t.same((await withEncoding('gzip', gzipSync(body))).json(), refused('gzip'), 'a gzip body')
  for (const encoding of ['br', 'deflate', 'GZIP', 'identity, gzip', 'x-custom']) {
    const res = await withEncoding(encoding)
    t.equal(res.statusCode, 415, encoding)
    t.same(res.json(), refused(encoding), encoding)
  }
  t.same((await withEncoding('gzip', 'key=k&value=1', '/user/1/preference/', FORM)).json(), refused('gzip'), 'a form body')
  t.same((await withEncoding('gzip', '{"k":1}', '/user/1/preference/', 'application/merge-patch+json')).json(), refused('gzip'), 'a merge patch')
  t.same(await rows(), [])

  for (const [i, encoding] of ['identity', 'Identity', ' identity ', ''].entries()) {
    const res = await withEncoding(encoding, `{"key":"ok-${i}","value":1}`)
    t.equal(res.statusCode, 201, `Content-Encoding ${JSON.stringify(encoding)} is no encoding`)
  }
  t.equal((await rows()).length, 4)
  // A request without a body is not refused for the header alone.
  const get = await app.inject({ url: `${PREFIX}/user/1/preference/`, headers: { ...bearer(token(1)), 'content-encoding': 'gzip' } })
  t.equal(get.statusCode, 200)
})

// Fastify's own refusals of a body come out under this API's codes (plugins/error-handler.ts).
t.test('a Content-Length that does not match the body, an empty or blank Content-Type: a 4xx of ours, nothing written', async (t) => {
  const { app, rows } = await build(t)
  const body = '{"key":"k","value":1}'
  const short = await app.inject({
    method: 'POST', url: `${PREFIX}/user/1/preference/`, headers: { ...bearer(token(1)), 'content-type': JSON_TYPE, 'content-length': '3' }, payload: body
  })
  t.equal(short.statusCode, 400)
  t.same(short.json(), { statusCode: 400, code: 'PREFERENCE_MALFORMED_BODY', error: 'Bad Request', message: 'Content-Length does not match the body' })
  for (const [contentType, shown] of [['', '""'], [' ', '" "'], [';', '";"']]) {
    const res = await send(app, 'POST', '/user/1/preference/', contentType, body)
    t.equal(res.statusCode, 415, `Content-Type ${shown}`)
    t.same(res.json(), {
      statusCode: 415,
      code: 'PREFERENCE_UNSUPPORTED_MEDIA_TYPE',
      error: 'Unsupported Media Type',
      message: `Unsupported Content-Type ${shown}: send application/json or application/x-www-form-urlencoded`
    })
  }
  t.same(await rows(), [], 'nothing stored')
})
