import t from 'tap'
import { MAX_JSON_DEPTH, nestingDepth } from '../lib/json-body.js'
import { build, client, token } from './helper.js'

// Valid JSON that the store cannot keep as sent, found by test/fuzz.test.ts: refused with a
// 400 that changes nothing, instead of being stored altered (a number out of a double's
// range became null) or failing later (a value nested thousands deep was stored, then
// could not be serialised: a 500).

const nested = (depth: number, shape: 'array' | 'object'): string => shape === 'array'
  ? `${'['.repeat(depth)}${']'.repeat(depth)}`
  : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

t.test('numbers beyond a double: 400 PREFERENCE_VALIDATION_FAILED in every body form; nothing stored', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const created = await c.create('keep', 1)
  t.equal(created.statusCode, 201)
  const id = created.json().id
  const before = await rows()
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const cases: Array<[string, () => ReturnType<typeof c.request>]> = [
    ['1e400', () => c.request('POST', '/user/me/preference/', '{"key":"k","value":1e400}')],
    ['-1e400', () => c.request('POST', '/user/me/preference/', '{"key":"k","value":-1e400}')],
    ['1E+999 inside an object', () => c.request('POST', '/user/me/preference/', '{"key":"k","value":{"a":[1,{"b":1E+999}]}}')],
    ['309 digits', () => c.request('POST', '/user/me/preference/', `{"key":"k","value":${'9'.repeat(309)}}`)],
    ['in a __proto__ key', () => c.request('POST', '/user/me/preference/', '{"key":"k","value":{"__proto__":1e400}}')],
    ['in an ignored field', () => c.request('POST', '/user/me/preference/', '{"key":"k","value":1,"x":1e400}')],
    ['PATCH', () => c.request('PATCH', `/user/me/preference/${id}/`, '{"value":1e400}')],
    ['PUT', () => c.request('PUT', `/user/me/preference/${id}/`, '{"key":"keep","value":[1e400]}')],
    ['form field value', () => c.request('POST', '/user/me/preference/', 'key=k&value=1e400', form)],
    ['form with a JSON document', () => c.request('POST', '/user/me/preference/', '{"key":"k","value":1e400}', form)]
  ]
  for (const [what, send] of cases) {
    const res = await send()
    t.equal(res.statusCode, 400, `${what}: 400`)
    t.match(res.json(), { code: 'PREFERENCE_VALIDATION_FAILED', message: /range of a double/ }, `${what}: code and message`)
  }
  t.same(await rows(), before, 'nothing changed')

  // What is representable is kept, even when it looks alike.
  for (const [text, value] of [['1e308', 1e308], ['-1.7976931348623157e308', -1.7976931348623157e308], ['"1e400"', '1e400'],
    ['{"e400":"9e999"}', { e400: '9e999' }], ['1e-400', 0], ['123456789012345678901234567890', Number('123456789012345678901234567890')]] as const) {
    const res = await c.request('POST', '/user/me/preference/', `{"key":${JSON.stringify(`ok ${text}`)},"value":${text}}`)
    t.equal(res.statusCode, 201, `${text}: 201`)
    t.same(res.json().value, value, `${text}: as JSON.parse reads it`)
  }
})

t.test(`nesting: up to ${MAX_JSON_DEPTH} levels stored and served; deeper is a 400, never a 500`, async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  for (const shape of ['array', 'object'] as const) {
    const deepest = nested(MAX_JSON_DEPTH - 1, shape) // the body {"key","value"} is one more level
    const res = await c.request('POST', '/user/me/preference/', `{"key":"deep ${shape}","value":${deepest}}`)
    t.equal(res.statusCode, 201, `${shape}: ${MAX_JSON_DEPTH - 1} levels: 201`)
    t.same(res.json().value, JSON.parse(deepest), `${shape}: answered as sent`)
    const got = await c.request('GET', `/user/me/preference/${res.json().id}/`)
    t.equal(got.statusCode, 200)
    t.same(got.json().value, JSON.parse(deepest), `${shape}: read back as sent`)
  }
  t.equal((await c.request('GET', '/user/me/preference/')).statusCode, 200, 'the list serialises them too')
  const before = await rows()
  for (const depth of [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 4_179, 5_000, 100_000]) {
    for (const shape of ['array', 'object'] as const) {
      const res = await c.request('POST', '/user/me/preference/', `{"key":"too deep","value":${nested(depth, shape)}}`)
      t.equal(res.statusCode, 400, `${shape}: ${depth} levels: 400`)
      t.match(res.json(), { code: 'PREFERENCE_MALFORMED_BODY', message: /nested more than 1000 levels/ })
    }
  }
  // Around the depth where JSON.stringify used to succeed in the handler and fail later.
  for (let depth = 4_100; depth <= 4_300; depth += 7) {
    const res = await c.request('POST', '/user/me/preference/', `{"key":"d${depth}","value":${nested(depth, 'object')}}`)
    if (res.statusCode !== 400) t.fail(`${depth} levels: ${res.statusCode}`)
  }
  t.same(await rows(), before, 'nothing changed')
})

t.test('nestingDepth ignores brackets inside strings and escapes', async (t) => {
  t.equal(nestingDepth('1'), 0)
  t.equal(nestingDepth('[[],{"a":[1]}]'), 3)
  t.equal(nestingDepth('"[[[[{{{{"'), 0)
  t.equal(nestingDepth('["\\"[[[", {"\\\\":["]"]}]'), 3)
  t.equal(nestingDepth(`{"key":"${'['.repeat(5000)}","value":1}`), 1)
})

t.test('a string full of brackets is not "deep"', async (t) => {
  const { app } = await build(t)
  const res = await client(app, token(1)).create('brackets', '['.repeat(5_000) + '{'.repeat(5_000))
  t.equal(res.statusCode, 201)
  t.equal(res.json().value.length, 10_000)
})
