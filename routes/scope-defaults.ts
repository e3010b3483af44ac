import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import { bodyValueText } from '../lib/json-body.js'
import { DefaultNotFoundError } from '../schemas/errors.js'
import {
  PutScopeDefaultBodySchema, ScopeDefaultListSchema, ScopeDefaultSchema, ScopeKeyParamsSchema, ScopeParamsSchema
} from '../schemas/scope-default.js'
import { PREFERENCE_DEFAULTS_TAG } from '../schemas/openapi.js'
import { bodyErrorResponses, defaultNotFoundResponse, scopeErrorResponses } from '../schemas/responses.js'
import { forBothSlashes, sendNoContent } from './shared.js'

/**
 * The defaults of a scope (`site`, or a group), under /preference-defaults/{scope}/. The
 * onRequest hook has checked {scope}, {key} and who may read or write the scope.
 */
const scopeDefaultRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = fastify.preferencesStore

  forBothSlashes((slash, { hide, security }) => {
    const doc = { hide, security, tags: [PREFERENCE_DEFAULTS_TAG] }
    const one = `/preference-defaults/:scope/by-key/:key${slash}`

    fastify.get(`/preference-defaults/:scope${slash}`, {
      schema: {
        ...doc,
        summary: 'List a scope\'s defaults',
        description: 'Anyone signed in may read `site`; a group\'s defaults need membership (groupsOf) or admin.',
        params: ScopeParamsSchema,
        response: { 200: { ...ScopeDefaultListSchema, description: 'The scope\'s defaults, ordered by key' }, ...scopeErrorResponses }
      }
    }, async (request) => {
      const scope = request.preferenceScope
      return { scope, results: await store.listDefaults(scope) }
    })

    fastify.get(one, {
      schema: {
        ...doc,
        summary: 'Get a scope\'s default for a key',
        params: ScopeKeyParamsSchema,
        response: { 200: { ...ScopeDefaultSchema, description: 'The default' }, ...scopeErrorResponses, ...defaultNotFoundResponse }
      }
    }, async (request) => {
      const found = await store.getDefault(request.preferenceScope, request.preferenceKey)
      if (found === undefined) throw new DefaultNotFoundError()
      return found
    })

    fastify.put(one, {
      schema: {
        ...doc,
        summary: 'Set a scope\'s default for a key',
        description: 'Admins, or callers canManageScope allows. The value passes the key registry and the ' +
          'size limit like a user\'s. `locked: true` gives every user under the scope this value, whatever ' +
          'they stored, and refuses their writes of the key (403 PREFERENCE_KEY_LOCKED).',
        params: ScopeKeyParamsSchema,
        body: PutScopeDefaultBodySchema,
        response: {
          200: { ...ScopeDefaultSchema, description: 'Replaced' },
          201: { ...ScopeDefaultSchema, description: 'Created' },
          ...scopeErrorResponses,
          ...bodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const { value, locked = false } = request.body
      const { scopeDefault, created } = await store.putDefault(request.preferenceScope, request.preferenceKey, value, locked,
        request.preferencesCaller, bodyValueText(request.body))
      return reply.code(created ? 201 : 200).send(scopeDefault)
    })

    fastify.delete(one, {
      schema: {
        ...doc,
        summary: 'Delete a scope\'s default for a key',
        params: ScopeKeyParamsSchema,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...scopeErrorResponses,
          ...defaultNotFoundResponse,
          ...bodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const deleted = await store.deleteDefault(request.preferenceScope, request.preferenceKey, request.preferencesCaller)
      if (!deleted) throw new DefaultNotFoundError()
      return sendNoContent(reply)
    })
  })
}

export default scopeDefaultRoutes
