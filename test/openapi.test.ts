import SwaggerParser from '@apidevtools/swagger-parser'
import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import { buildApp } from '../server/app.js'
import preferences, {
  bearerSecurityScheme, ErrorSchema, PreferenceKeySchema, PreferenceSchema, preferencesOpenapi
} from '../index.js'
import type { OpenApiDocument } from './contract.js'
import { freshDatabaseUrl, PREFIX, SECRET } from './helper.js'

interface Parameter { name: string, in: string, schema: Record<string, unknown> }
interface Media { schema: Record<string, any>, example?: unknown, examples?: Record<string, { value: unknown }> }
interface Operation {
  tags?: string[]
  summary?: string
  security?: Array<Record<string, string[]>>
  parameters?: Parameter[]
  requestBody?: { content: Record<string, Media> }
  responses: Record<string, { description: string, headers?: Record<string, unknown>, content?: Record<string, Media> }>
}
type Document = OpenApiDocument & {
  info: { title: string, version: string }
  paths: Record<string, Record<string, Operation>>
  components: { securitySchemes: Record<string, unknown> }
}

const COLLECTION = `${PREFIX}/user/{user_id}/preference/`
const ITEM = `${PREFIX}/user/{user_id}/preference/{id}/`

/** A standard validator's verdict (it dereferences what it is given: it gets a copy). */
async function validateDocument (t: Test, document: unknown, what: string): Promise<void> {
  await t.resolves(SwaggerParser.validate(structuredClone(document) as never), `${what} is valid OpenAPI`)
}

interface SeenRoute { method: string, url: string, hide: boolean }

/** A host that documents the plugin: @fastify/swagger first, then the plugin under /api/v2. */
async function buildHost (t: Test, swaggerFirst = true): Promise<{ app: FastifyInstance, routes: SeenRoute[] }> {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  const routes: SeenRoute[] = []
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith(PREFIX) && route.method !== 'HEAD') {
      for (const method of [route.method].flat()) {
        routes.push({ method, url: route.url, hide: (route.schema as { hide?: boolean } | undefined)?.hide === true })
      }
    }
  })
  const registerSwagger = () => app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'A host application', version: '7.0.0' },
      components: { securitySchemes: { ...preferencesOpenapi.components.securitySchemes } },
      tags: [...preferencesOpenapi.tags, { name: 'host' }]
    }
  })
  if (swaggerFirst) await registerSwagger()
  app.get('/status', { schema: { tags: ['host'], response: { 200: { type: 'object', properties: { up: { type: 'boolean' } } } } } },
    async () => ({ up: true }))
  await app.register(preferences, { prefix: PREFIX, auth: { secret: SECRET }, database: await freshDatabaseUrl(t), maxPageSize: 50 })
  if (!swaggerFirst) await registerSwagger()
  await app.ready()
  return { app, routes }
}

t.test('the standalone server\'s document: valid, complete, from the validating schemas', async (t) => {
  const app = await buildApp({ jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(t), logger: false })
  t.after(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/documentation/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json() as Document
  t.match(doc.openapi, /^3\.0\.\d$/)
  await validateDocument(t, doc, 'the standalone document')

  t.same(Object.keys(doc.paths).sort(), [
    '/api/v2/preference-defaults/{scope}/', '/api/v2/preference-defaults/{scope}/by-key/{key}/',
    '/api/v2/user/{user_id}/preference/', '/api/v2/user/{user_id}/preference/by-key/{key}/',
    '/api/v2/user/{user_id}/preference/by-key/{key}/history/', '/api/v2/user/{user_id}/preference/changes/',
    '/api/v2/user/{user_id}/preference/effective/', '/api/v2/user/{user_id}/preference/events/',
    '/api/v2/user/{user_id}/preference/export/', '/api/v2/user/{user_id}/preference/import/',
    '/api/v2/user/{user_id}/preference/{id}/', '/health'
  ],
  'the canonical paths only (the slash-less twins are hidden)')
  t.same(Object.keys(doc.paths[COLLECTION]).sort(), ['delete', 'get', 'patch', 'post'])
  t.same(Object.keys(doc.paths[ITEM]).sort(), ['delete', 'get', 'patch', 'put'])
  t.same(doc.components.securitySchemes, { bearerAuth: bearerSecurityScheme }, 'the Bearer scheme')

  const errorRequired = [...ErrorSchema.required].sort()
  for (const path of [COLLECTION, ITEM]) {
    for (const [method, op] of Object.entries(doc.paths[path])) {
      const what = `${method.toUpperCase()} ${path}`
      t.same(op.security, [{ bearerAuth: [] }], `${what}: needs the Bearer token`)
      t.same(op.tags, ['preferences'], `${what}: tagged`)
      t.ok(op.summary, `${what}: has a summary`)
      for (const status of ['400', '401', '403', '500', '503']) t.ok(op.responses[status], `${what}: documents ${status}`)
      for (const [status, response] of Object.entries(op.responses)) {
        t.ok(response.description && response.description !== 'Default Response', `${what} ${status}: described`)
        if (Number(status) >= 400) {
          const schema = response.content?.['application/json'].schema
          t.same([...(schema?.required ?? [])].sort(), errorRequired, `${what} ${status}: the error shape`)
          t.match(response.description, /PREFERENCE_[A-Z_]+/, `${what} ${status}: names its codes`)
        }
      }
    }
  }
  // Every error of every operation is JSON, the event stream's refusals included (its 200 alone
  // is text/event-stream).
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) >= 400) {
          t.same(Object.keys(response.content ?? {}), ['application/json'], `${method.toUpperCase()} ${path} ${status}: JSON`)
        }
      }
    }
  }
  t.same(Object.keys(doc.paths['/api/v2/user/{user_id}/preference/events/'].get.responses['200'].content ?? {}), ['text/event-stream'])
  t.same(doc.paths[ITEM].delete.responses['204'].content, undefined, 'a 204 has no body')
  t.ok(doc.paths[ITEM].get.responses['404'] && doc.paths[ITEM].patch.responses['409'] && doc.paths[COLLECTION].post.responses['413'])
  t.same(doc.paths['/health'].get.security, undefined, 'the health check needs no token')

  // Generated from the schemas that validate: the same constraints, not a second copy.
  const create = doc.paths[COLLECTION].post
  t.same(Object.keys(create.requestBody?.content ?? {}), ['application/json', 'application/x-www-form-urlencoded'],
    'both accepted content types')
  const body = create.requestBody?.content['application/json']
  t.same(body?.schema.required, ['key', 'value'])
  t.equal(body?.schema.properties.key.pattern, PreferenceKeySchema.pattern)
  t.equal(body?.schema.properties.key.maxLength, PreferenceKeySchema.maxLength)
  t.same(create.responses['201'].content?.['application/json'].schema.required, PreferenceSchema.required)
  t.same(doc.paths[ITEM].patch.requestBody?.content['application/json'].schema.required, undefined, 'PATCH: all optional')
  const userId = create.parameters?.find((p) => p.name === 'user_id')
  t.match(userId, { in: 'path', schema: { pattern: '^(me|[1-9][0-9]*)$' } })

  // Examples, among them the original reference's (form content type, a JSON document as the body).
  const form = create.requestBody?.content['application/x-www-form-urlencoded']
  t.same(form?.examples?.reference.value, { key: 'string', value: 'json' }, 'the seed page\'s example body')
  t.same(body?.examples?.object.value, { key: 'theme', value: { mode: 'dark' } })
  t.match(create.responses['201'], {
    description: /Location/,
    headers: { location: { schema: { type: 'string' } } },
    content: { 'application/json': { example: { id: 1, user_id: 1, key: 'theme', value: { mode: 'dark' } } } }
  }, 'the 201: its Location header and an example')
})

t.test('the UI at /documentation keeps a pasted token', async (t) => {
  const app = await buildApp({ jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(t), logger: false })
  t.after(() => app.close())
  const page = await app.inject({ method: 'GET', url: '/documentation' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.payload, /swagger-initializer\.js/)
  const init = await app.inject({ method: 'GET', url: '/documentation/static/swagger-initializer.js' })
  t.equal(init.statusCode, 200)
  t.match(init.payload, /"persistAuthorization":\s*true/, 'Authorize keeps the token across reloads')
  t.match(init.payload, /url: resolveUrl\('\.\/json'\)/, 'the UI loads the generated document (/documentation/json)')
})

t.test('a host\'s own document lists the plugin\'s routes and the Bearer scheme', async (t) => {
  const { app, routes } = await buildHost(t)
  const doc = app.swagger() as unknown as Document
  await validateDocument(t, doc, 'the host\'s document')
  t.match(doc.info, { title: 'A host application', version: '7.0.0' }, 'the host\'s own info')
  t.ok(doc.paths['/status']?.get, 'the host\'s own route')
  t.same(doc.components.securitySchemes.bearerAuth, bearerSecurityScheme, 'the scheme the plugin\'s operations name')

  // Every route the plugin registered is documented: the slashed ones directly, the others as
  // their slashed twin.
  t.ok(routes.length >= 12, `the plugin registered ${routes.length} routes`)
  for (const route of routes) {
    const template = route.url.replace(/:(\w+)/g, '{$1}').replace(/\/?$/, '/')
    t.ok(doc.paths[template]?.[route.method.toLowerCase()], `${route.method} ${route.url} is documented as ${template}`)
    t.equal(route.hide, !route.url.endsWith('/'), `${route.method} ${route.url}: listed once`)
  }
  const limit = doc.paths[COLLECTION].get.parameters?.find((p) => p.name === 'limit')
  t.equal(limit?.schema.maximum, 50, 'the list\'s limit follows this registration\'s maxPageSize')
})

t.test('registered after the plugin, @fastify/swagger does not see its routes', async (t) => {
  // As for any route: @fastify/swagger documents the routes registered after it. The README
  // says to register it before the plugin.
  const { app } = await buildHost(t, false)
  const doc = app.swagger() as unknown as Document
  t.same(doc.paths, {})
})
