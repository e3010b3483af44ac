import type {} from '@fastify/swagger'
import { Ajv, type ValidateFunction } from 'ajv'
import ajvFormats from 'ajv-formats'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'

// The contract test: every response a test receives is checked against the OpenAPI document
// that @fastify/swagger generates from the routes' own schemas. A status the document does not
// list for that operation, a body its schema rejects, a content type it does not name, or a
// 201 without Location is a problem, reported to the test (see attachContract).

interface MediaType { schema?: object }
interface ResponseObject {
  description: string
  headers?: Record<string, { schema?: object, required?: boolean }>
  content?: Record<string, MediaType>
}
interface Operation { responses: Record<string, ResponseObject> }
export interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components?: Record<string, unknown>
}

interface DocumentedRoute { method: string, template: string, regex: RegExp, literalChars: number, operation: Operation }

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

/**
 * What the plugin may answer where the document has no operation (an unknown path under its
 * prefix, a method a path does not have): its 401 (the token is checked first), its 404
 * PREFERENCE_ROUTE_NOT_FOUND and its 405 PREFERENCE_METHOD_NOT_ALLOWED, in its error shape.
 * Anything else there (Fastify's own 404 body, a 200) is a problem.
 */
const UNDOCUMENTED_ANSWERS: Record<number, string[]> = {
  401: ['PREFERENCE_AUTH_REQUIRED', 'PREFERENCE_AUTH_INVALID'],
  404: ['PREFERENCE_ROUTE_NOT_FOUND'],
  405: ['PREFERENCE_METHOD_NOT_ALLOWED']
}

// ajv-formats is CommonJS: its default export is the module object under NodeNext's typing.
const addFormats = ajvFormats as unknown as typeof ajvFormats.default

/** `/a/{id}/` to a regular expression matching `/a/17/` and `/a/17` (the plugin serves both). */
function templateRegex (template: string): RegExp {
  const source = template.replace(/\/$/, '').split(/(\{[^}]+\})/).map((part) =>
    /^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('')
  return new RegExp(`^${source}/?$`)
}

export class Contract {
  private readonly routes: DocumentedRoute[] = []
  private readonly ajv: Ajv
  private readonly validators = new Map<object, ValidateFunction>()
  /** The error body's schema, as the document's 401s give it. */
  private readonly errorSchema: object | undefined

  constructor (readonly document: OpenApiDocument) {
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true })
    addFormats(this.ajv)
    for (const [template, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!METHODS.has(method)) continue
        this.routes.push({
          method: method.toUpperCase(),
          template,
          regex: templateRegex(template),
          literalChars: template.replace(/\{[^}]+\}/g, '').length,
          operation
        })
      }
    }
    // Where two templates match a path, the one with more literal text wins (`/by-key/{key}`
    // over `/{id}`), as in the router.
    this.routes.sort((a, b) => b.literalChars - a.literalChars)
    this.errorSchema = this.routes.map((r) => r.operation.responses['401']?.content?.['application/json']?.schema)
      .find((schema) => schema !== undefined)
  }

  /** The problems of an answer to a request the document has no operation for. */
  private undocumented (at: string, method: string, path: string, response: Pick<LightMyRequestResponse, 'statusCode' | 'headers' | 'payload'>): string[] {
    const noOperation = [`${at}: no operation for ${method} ${path} in the OpenAPI document`]
    const codes = UNDOCUMENTED_ANSWERS[response.statusCode]
    if (codes === undefined || this.errorSchema === undefined) return noOperation
    if (response.statusCode === 405 && !/^[A-Z]+(, [A-Z]+)*$/.test(String(response.headers.allow ?? ''))) {
      return [`${at}: a 405 without an Allow header listing methods`]
    }
    if (method === 'HEAD') return []
    let body: { code?: unknown } | undefined
    try {
      body = JSON.parse(response.payload) as { code?: unknown }
    } catch {}
    if (body === undefined || !codes.includes(String(body.code))) return noOperation
    const problems: string[] = []
    this.check(this.errorSchema, body, `${at}: body`, problems)
    return problems
  }

  private validator (schema: object): ValidateFunction {
    let validate = this.validators.get(schema)
    if (validate === undefined) {
      // Local `#/components/...` references resolve against the document's components.
      validate = this.ajv.compile({ ...schema, components: this.document.components ?? {} })
      this.validators.set(schema, validate)
    }
    return validate
  }

  private check (schema: object | undefined, value: unknown, what: string, problems: string[]): void {
    if (schema === undefined) return
    const validate = this.validator(schema)
    if (!validate(value)) {
      problems.push(`${what} does not match its documented schema: ${this.ajv.errorsText(validate.errors)}`)
    }
  }

  /** What is wrong with this response to `method url`, as documented; empty when nothing. */
  problems (method: string, url: string, response: Pick<LightMyRequestResponse, 'statusCode' | 'headers' | 'payload'>): string[] {
    const path = url.split(/[?#]/, 1)[0]
    const upper = method.toUpperCase()
    const route = this.routes.find((r) => r.method === upper && r.regex.test(path))
    const status = response.statusCode
    const at = `${upper} ${path} -> ${status}`
    if (route === undefined) return this.undocumented(at, upper, path, response)

    const documented = route.operation.responses[String(status)] ??
      route.operation.responses[`${String(status)[0]}XX`] ?? route.operation.responses.default
    if (documented === undefined) {
      return [`${at}: status ${status} is not documented for ${upper} ${route.template} (documented: ${Object.keys(route.operation.responses).join(', ')})`]
    }

    const problems: string[] = []
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const value = response.headers[name.toLowerCase()]
      const required = header.required === true || (status === 201 && name.toLowerCase() === 'location')
      if (value === undefined) {
        if (required) problems.push(`${at}: the documented ${name} header is missing`)
        continue
      }
      this.check(header.schema, value, `${at}: header ${name}`, problems)
    }

    const contentType = String(response.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase()
    if (documented.content === undefined) {
      if (response.payload !== '') problems.push(`${at}: the document says no body, got ${JSON.stringify(response.payload.slice(0, 200))}`)
      return problems
    }
    const media = documented.content[contentType]
    if (media === undefined) {
      problems.push(`${at}: content type "${contentType}" is not documented (documented: ${Object.keys(documented.content).join(', ')})`)
      return problems
    }
    if (contentType.endsWith('json')) {
      let body: unknown
      try {
        body = JSON.parse(response.payload)
      } catch {
        problems.push(`${at}: the body is not JSON: ${JSON.stringify(response.payload.slice(0, 200))}`)
        return problems
      }
      this.check(media.schema, body, `${at}: body`, problems)
    }
    return problems
  }
}

const contracts = new Map<string, Contract>()

/** The contract of an app that registered @fastify/swagger (documents that are equal share one). */
export function contractOf (app: FastifyInstance): Contract {
  const document = app.swagger() as unknown as OpenApiDocument
  const key = JSON.stringify(document)
  let contract = contracts.get(key)
  if (contract === undefined) {
    contract = new Contract(document)
    contracts.set(key, contract)
  }
  return contract
}

export type ProblemReporter = (problem: string, response: LightMyRequestResponse) => void

const CHECKED = Symbol('contract checked')

function resolveDotSegments (path: string): string {
  try {
    return new URL(`http://contract.invalid${path.startsWith('/') ? '' : '/'}${path}`).pathname
  } catch {
    return path
  }
}

/**
 * Replaces `app.inject` (promise form) with one that checks every response against the app's
 * OpenAPI document and reports each problem. Call once the app is ready.
 */
export function attachContract (app: FastifyInstance, report: ProblemReporter): Contract {
  const contract = contractOf(app)
  const inject = app.inject.bind(app) as (options: InjectOptions | string) => Promise<LightMyRequestResponse>
  const checked = async (options: InjectOptions | string): Promise<LightMyRequestResponse> => {
    const response = await inject(options)
    const { method = 'GET', url = '/' } = typeof options === 'string' ? { url: options } : options
    const raw = typeof url === 'string' ? url : String(url.pathname ?? '/')
    // As the server sees it: dot segments resolved (light-my-request and HTTP clients do so).
    const path = resolveDotSegments(raw.split('?')[0])
    for (const problem of contract.problems(String(method), path, response)) report(problem, response)
    return response
  }
  const replacement = function (this: FastifyInstance, ...args: unknown[]) {
    // The chained (no argument) and callback forms are passed through unchecked.
    if (args.length !== 1 || args[0] === undefined) return (inject as (...a: unknown[]) => unknown)(...args)
    return checked(args[0] as InjectOptions | string)
  }
  Object.defineProperty(replacement, CHECKED, { value: contract })
  app.inject = replacement as FastifyInstance['inject']
  return contract
}

/** The contract attached to this app's inject, if any. */
export function attachedContract (app: FastifyInstance): Contract | undefined {
  return (app.inject as unknown as Record<typeof CHECKED, Contract | undefined>)[CHECKED]
}
