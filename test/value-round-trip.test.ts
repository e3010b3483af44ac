import t from 'tap'
import { memberJsonText, minifyJson } from '../lib/json-text.js'
import { bearer, build, client, PREFIX, token } from './helper.js'

// JSON that JSON.parse + JSON.stringify would change: integer-like keys move first, 1.0 loses
// its fraction, 1e2 becomes 100, -0 becomes 0, a 2^70 integer loses digits, \u00e9 is unescaped.
const EXACT = '{"b":1,"2":[1.0,1e2,-0,1180591620717411303424],"a":"\\u00e9","n":{"z":null,"1":true}}'

t.test('a value goes back exactly as it was written: digits, escapes, key order', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const created = await c.request('POST', '/user/me/preference/', `{ "key" : "exact", "value" :\n ${EXACT.replace(/,/g, ', ')} }`)
  t.equal(created.statusCode, 201)
  t.ok(created.body.includes(`"value":${EXACT},`), created.body)
  const id = created.json().id
  t.equal((await rows())[0].value, EXACT, 'stored as the client wrote it, without the whitespace')

  const one = await c.request('GET', `/user/me/preference/${id}/`)
  t.ok(one.body.includes(`"value":${EXACT},`), 'GET one')
  const list = await c.request('GET', '/user/me/preference/')
  t.ok(list.body.includes(`"value":${EXACT},`), 'list')
  const byKey = await c.request('GET', '/user/me/preference/by-key/exact/')
  t.ok(byKey.body.includes(`"value":${EXACT},`), 'by key')

  const patched = await c.request('PATCH', `/user/me/preference/${id}/`, '{"value":[1.50,2E3]}')
  t.ok(patched.body.includes('"value":[1.50,2E3],'), 'PATCH')
  const put = await c.request('PUT', '/user/me/preference/by-key/exact/', '{"value":{"9":1,"x":2}}')
  t.ok(put.body.includes('"value":{"9":1,"x":2},'), 'PUT by key')
  const replaced = await c.request('PUT', `/user/me/preference/${id}/`, '{"key":"exact","value":10.0}')
  t.ok(replaced.body.includes('"value":10.0,'), 'PUT by id')
})

t.test('form bodies keep the value\'s text too', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: `${PREFIX}/user/1/preference/`,
    headers: { ...bearer(token(1)), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `key=f&value=${encodeURIComponent(' [ 1.0 , {"2":0,"1":0} ] ')}`
  })
  t.equal(res.statusCode, 201)
  t.ok(res.body.includes('"value":[1.0,{"2":0,"1":0}],'), res.body)
})

t.test('memberJsonText and minifyJson', async (t) => {
  t.equal(memberJsonText('{"value": [1, 2]}', 'value'), '[1,2]')
  t.equal(memberJsonText(' { "a" : "x\\"value\\"" , "value" : { "s" : "a b\\\\" } } ', 'value'), '{"s":"a b\\\\"}')
  t.equal(memberJsonText('{"value":1,"value":2}', 'value'), '2', 'the last one, as JSON.parse')
  t.equal(memberJsonText('{"val\\u0075e":true}', 'value'), 'true', 'an escaped member name')
  t.equal(memberJsonText('{"other":1}', 'value'), undefined)
  t.equal(memberJsonText('[1]', 'value'), undefined)
  t.equal(memberJsonText('{"value":"}{][,"}', 'value'), '"}{][,"')
  t.equal(minifyJson(' { "a b" : [ 1 ,\n\t2 ] } '), '{"a b":[1,2]}')
})
