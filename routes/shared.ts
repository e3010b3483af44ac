/// <reference path="../plugins/fastify-internal.d.ts" />
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { PreferenceCore, WriteContext } from '../store/preference-core.js'
import type { PreferencesRequest } from '../store/store-options.js'
import { PREFERENCES_SECURITY_SCHEME, PREFERENCES_TAG } from '../schemas/openapi.js'

/** What every route's schema says for the OpenAPI document, and whether it is listed there. */
export interface RouteDoc {
  hide: boolean
  tags: string[]
  security: Array<Record<string, string[]>>
}

const tags = [PREFERENCES_TAG]
const security = [{ [PREFERENCES_SECURITY_SCHEME]: [] }]

/**
 * Every path works with and without its trailing slash: `register` is called for both, and
 * the OpenAPI document lists the slashed form only.
 */
export function forBothSlashes (register: (slash: '/' | '', doc: RouteDoc) => void): void {
  register('/', { hide: false, tags, security })
  register('', { hide: true, tags, security })
}

/** Every write answer says the user's revision after it. */
export const REVISION_HEADER = 'preference-revision'

/** The path of a preference by id under the mount prefix, with the real user id (never `me`). */
export const itemLocation = (prefix: string, userId: number, id: number): string =>
  `${prefix}/user/${userId}/preference/${id}/`

/**
 * 204 without a payload: Fastify then neither serialises one nor deletes the content headers
 * again (a reply.send(null) does both).
 */
export const sendNoContent = (reply: FastifyReply): FastifyReply => reply.code(204).send()

/** Who writes, for the store's rules: the caller, and the target user's groups as the host tells them. */
export function writeContext (request: FastifyRequest, store: PreferenceCore): WriteContext {
  const { groupsOf } = store.options
  // The routes run after the authenticate hook: the caller and the claims are set.
  return { actor: request.preferencesCaller, groupsOf: async (userId) => groupsOf(userId, request as PreferencesRequest) }
}

/** Limits the preference routes apply. */
export interface PreferenceRouteOptions {
  maxPreferencesPerUser: number
  maxPageSize: number
}
