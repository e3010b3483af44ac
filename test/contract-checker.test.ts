import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { attachContract, attachedContract } from './contract.js'
import { build, client, token } from './helper.js'

// The contract check itself: it must find what is wrong, or the whole suite's checks prove
// nothing.

t.test('build(t) checks every inject against the generated document', async (t) => {
  const { app } = await build(t)
  const contract = attachedContract(app)
  t.ok(contract, 'the helper attached the contract to inject')
  t.ok(contract?.document.paths['/api/v2/user/{user_id}/preference/'], 'from a document with the plugin\'s paths')

  const created = await client(app, token(1)).create('theme', { mode: 'dark' })
  t.equal(created.statusCode, 201)
  t.same(contract?.problems('POST', '/api/v2/user/me/preference/', created), [], 'a real 201 conforms')

  const forged = (changes: Partial<LightMyRequestResponse>) => ({ ...created, ...changes }) as LightMyRequestResponse
  const problems = (response: LightMyRequestResponse, method = 'POST', url = '/api/v2/user/me/preference/') =>
    contract?.problems(method, url, response) ?? []

  t.match(problems(forged({ statusCode: 418 })), [/status 418 is not documented for POST/])
  t.match(problems(forged({ statusCode: 404 })), [/status 404 is not documented for POST/], '404 is not a create answer')
  const { location, ...withoutLocation } = created.headers
  t.ok(location)
  t.match(problems(forged({ headers: withoutLocation })), [/Location header is missing/i])
  t.match(problems(forged({ payload: JSON.stringify({ ...created.json(), id: '1' }) })), [/body does not match .*\/id must be integer/])
  t.match(problems(forged({ payload: JSON.stringify({ ...created.json(), created_at: 'yesterday' }) })), [/created_at must match format "date-time"/])
  const { key, ...withoutKey } = created.json()
  t.ok(key)
  t.match(problems(forged({ payload: JSON.stringify(withoutKey) })), [/must have required property 'key'/])
  t.match(problems(forged({ headers: { ...created.headers, 'content-type': 'text/html' } })), [/content type "text\/html" is not documented/])
  t.match(problems(forged({ payload: 'not json' })), [/the body is not JSON/])
  t.match(problems(created, 'POST', '/api/v2/user/me/preferences/'), [/no operation for POST/], 'an unknown path')
  t.match(problems(created, 'HEAD'), [/no operation for HEAD/], 'an undocumented method')
  t.same(problems(created, 'POST', '/api/v2/user/me/preference?x=1'), [], 'no trailing slash and a query string match too')

  // Where the document has no operation, only the plugin's own 401, 404 and 405 are right.
  const noRoute = (statusCode: number, code: string, headers: Record<string, string> = {}) => forged({
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    payload: JSON.stringify({ statusCode, code, error: 'x', message: 'y' })
  })
  t.same(problems(noRoute(404, 'PREFERENCE_ROUTE_NOT_FOUND'), 'GET', '/api/v2/nothing'), [], 'the plugin\'s 404 on an unknown path')
  t.same(problems(noRoute(405, 'PREFERENCE_METHOD_NOT_ALLOWED', { allow: 'GET, POST' }), 'PUT', '/api/v2/user/1/preference/'), [],
    'the plugin\'s 405 with Allow')
  t.same(problems(noRoute(401, 'PREFERENCE_AUTH_REQUIRED'), 'GET', '/api/v2/nothing'), [], 'the plugin\'s 401')
  t.match(problems(noRoute(405, 'PREFERENCE_METHOD_NOT_ALLOWED'), 'PUT', '/api/v2/user/1/preference/'), [/a 405 without an Allow header/])
  t.match(problems(noRoute(404, 'PREFERENCE_NOT_FOUND'), 'GET', '/api/v2/nothing'), [/no operation for GET/], 'another code')
  t.match(problems(forged({ statusCode: 404, payload: JSON.stringify({ message: 'Route GET:/api/v2/nothing not found', error: 'Not Found', statusCode: 404 }) }),
    'GET', '/api/v2/nothing'), [/no operation for GET/], 'Fastify\'s own 404 body')
  t.match(problems(forged({ statusCode: 404, payload: JSON.stringify({ statusCode: 404, code: 'PREFERENCE_ROUTE_NOT_FOUND', error: 'Not Found' }) }),
    'GET', '/api/v2/nothing'), [/must have required property 'message'/], 'the error shape is checked there too')

  const error = forged({ statusCode: 404, payload: JSON.stringify({ statusCode: 404, code: 'X', error: 'Not Found' }) })
  t.match(problems(error, 'GET', '/api/v2/user/1/preference/1/'), [/must have required property 'message'/], 'the error shape is checked')
  t.match(problems(forged({ statusCode: 204 }), 'DELETE', '/api/v2/user/1/preference/1/'), [/the document says no body/])
})

t.test('attachContract reports undocumented answers of any app', async (t) => {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 'x', version: '1' } } })
  app.get('/ok', { schema: { response: { 200: Type.Object({ n: Type.Integer() }) } } }, async () => ({ n: 1 }))
  app.get('/teapot', { schema: { response: { 200: Type.Object({ n: Type.Integer() }) } } },
    async (_request, reply) => reply.code(418 as 200).send({ n: 1 }))
  app.get('/hidden', { schema: { hide: true } }, async () => 'hi')
  await app.ready()

  const reported: string[] = []
  attachContract(app, (problem) => { reported.push(problem) })
  t.equal((await app.inject({ url: '/ok' })).statusCode, 200)
  t.same(reported, [], 'a documented answer')
  t.equal((await app.inject({ method: 'GET', url: '/teapot' })).statusCode, 418, 'the response is still returned')
  t.match(reported, [/GET \/teapot -> 418: status 418 is not documented/])
  await app.inject('/hidden')
  t.match(reported[1], /no operation for GET \/hidden/)
  t.equal(reported.length, 2)
})
