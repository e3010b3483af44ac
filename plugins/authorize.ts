/// <reference path="./fastify-internal.d.ts" />
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { parsePositiveId } from '../lib/positive-id.js'
import type { RouteTable } from '../lib/route-table.js'
import type { Caller, CanManageScope } from '../options/plugin-options.js'
import { ForbiddenError, InvalidPathParameterError } from '../schemas/errors.js'
import { keyProblem } from '../schemas/preference.js'
import { isScopeName } from '../schemas/scope-default.js'
import { scopesOf } from '../store/preference-core.js'
import type { GroupsOf, PreferencesRequest } from '../store/store-options.js'
import { noRouteError } from './not-found.js'

export interface AuthorizeOptions {
  /** The plugin's routes, for the 405 of a path that has no such method. */
  routes: RouteTable
  groupsOf: GroupsOf
  canManageScope: CanManageScope | undefined
}

/** The path parameters the routes read, as strings (`{user_id}` may be `me`). */
export interface PathParameters {
  user_id?: string
  id?: string
  key?: string
  scope?: string
}

function pathId (name: 'user_id' | 'id', value: string | undefined, caller: Caller): number {
  if (name === 'user_id' && value === 'me') return caller.id
  const id = parsePositiveId(value)
  if (id === null) {
    throw new InvalidPathParameterError(name === 'user_id'
      ? `{user_id} must be a positive integer (no sign or leading zeros) or "me", got "${String(value).slice(0, 64)}"`
      : `{${name}} must be a positive integer (no sign or leading zeros), got "${String(value).slice(0, 64)}"`)
  }
  return id
}

function pathKey (value: string): string {
  const problem = keyProblem(value)
  if (problem !== undefined) {
    throw new InvalidPathParameterError(`{key} ${problem}, got ${JSON.stringify(value.slice(0, 64))}`)
  }
  return value
}

/** Reads the path parameters (400 when malformed) and lets the caller act on {user_id} only if it is theirs, or they are an admin (403). */
function authorizeUser (request: FastifyRequest, reply: FastifyReply, params: PathParameters, caller: Caller, routes: RouteTable): void {
  // The router gives an {id} route without its trailing slash the collection's path with an
  // empty id (PUT /user/1/preference/): no such route, so a 405 (or 404), not a bad {id}.
  if (params.id === '') throw noRouteError(request, reply, routes)
  const userId = pathId('user_id', params.user_id, caller)
  if (params.id !== undefined) request.preferenceId = pathId('id', params.id, caller)
  if (params.key !== undefined) request.preferenceKey = pathKey(params.key)
  if (userId !== caller.id && !caller.isAdmin) throw new ForbiddenError()
  request.preferencesUserId = userId
}

const forbidUnless = (allowed: boolean): void => {
  if (!allowed) throw new ForbiddenError()
}

/**
 * A scope's defaults: anyone may read `site`, a group's members (and admins) read the group's;
 * admins write, and whoever canManageScope lets. May answer later (groupsOf and
 * canManageScope may be async).
 */
function authorizeScope (
  request: FastifyRequest, params: PathParameters, caller: Caller, options: AuthorizeOptions
): Promise<void> | undefined {
  const scope = String(params.scope)
  if (!isScopeName(scope)) {
    throw new InvalidPathParameterError(`{scope} must be "site" or a group name of 1 to 64 letters, digits and _ . : -, got ${JSON.stringify(scope.slice(0, 64))}`)
  }
  if (params.key !== undefined) request.preferenceKey = pathKey(params.key)
  request.preferenceScope = scope
  if (caller.isAdmin) return undefined
  if (request.method === 'GET' || request.method === 'HEAD') {
    if (scope === 'site') return undefined
    return Promise.resolve(options.groupsOf(caller.id, request as PreferencesRequest)).then((groups) => { forbidUnless(scopesOf(groups).includes(scope)) })
  }
  const { canManageScope } = options
  if (canManageScope === undefined) throw new ForbiddenError()
  return Promise.resolve(canManageScope(caller, scope, request)).then((allowed) => { forbidUnless(allowed === true) })
}

/**
 * Whose preferences a request may touch. Runs after authentication and before the body is
 * read: the order 401, 400 (path), 403 is the contract.
 */
async function authorizePlugin (fastify: FastifyInstance, options: AuthorizeOptions): Promise<void> {
  fastify.decorateRequest('preferencesUserId', 0)
  fastify.decorateRequest('preferenceId', 0)
  fastify.decorateRequest('preferenceKey', '')
  fastify.decorateRequest('preferenceScope', '')

  fastify.addHook('onRequest', (request, reply, done) => {
    // No route took it: the not-found handler answers, with no path parameters to check.
    if (request.is404) {
      done()
      return
    }
    const params = request.params as PathParameters
    // Set by the authenticate hook, which ran first or ended the request.
    const caller = request.preferencesCaller as Caller
    let later: Promise<void> | undefined
    try {
      if (params.user_id !== undefined) authorizeUser(request, reply, params, caller, options.routes)
      else if (params.scope !== undefined) later = authorizeScope(request, params, caller, options)
    } catch (error) {
      done(error as Error)
      return
    }
    // done() outside the try: it runs the rest of the request, whose errors are not ours.
    if (later === undefined) done()
    else later.then(() => { done() }, (error: unknown) => { done(error instanceof Error ? error : new Error(String(error))) })
  })
}

export default fp(authorizePlugin, {
  name: 'preferences-authorize',
  fastify: '5.x',
  dependencies: ['preferences-authenticate']
})
