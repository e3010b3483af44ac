import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import type { TSchema } from '@sinclair/typebox'
import { ReadConditionHeadersSchema } from '../schemas/conditional-headers.js'
import { EffectiveEntrySchema, EffectiveQuerySchema, EffectiveViewSchema } from '../schemas/effective-view.js'
import { ValidationError } from '../schemas/errors.js'
import { keyProblem, UserParamsSchema } from '../schemas/preference.js'
import { authErrorResponses, notModifiedResponse, withEtag } from '../schemas/responses.js'
import type { CompiledRegistry } from '../store/key-registry.js'
import { quotedKey } from '../store/values.js'
import { effectiveEtag, notModified, sendNotModified } from './conditional.js'
import { forBothSlashes, writeContext } from './shared.js'

/**
 * The effective view's schema with each registered exact key written out (its schema,
 * default and description), so that the OpenAPI document describes the registry.
 */
function documentedViewSchema (registry: CompiledRegistry): TSchema {
  const properties: Record<string, TSchema> = {}
  for (const definition of registry.definitions) {
    if (definition.name.endsWith('*')) continue
    properties[definition.name] = {
      ...EffectiveEntrySchema,
      properties: {
        ...EffectiveEntrySchema.properties,
        value: {
          // null only when the user's value no longer fits and nothing else applies.
          anyOf: [definition.schema, { type: 'null' }],
          ...(definition.description !== undefined && { description: definition.description }),
          ...(definition.hasDefault && { default: definition.default })
        }
      }
    } as unknown as TSchema
  }
  const patterns = registry.definitions.filter((d) => d.name.endsWith('*'))
  const preferences = EffectiveViewSchema.properties.preferences
  return {
    ...EffectiveViewSchema,
    properties: {
      preferences: {
        ...preferences,
        properties,
        ...(patterns.length > 0 && {
          description: `${preferences.description ?? ''}. Patterns: ${patterns.map((d) =>
            `\`${d.name}\`${d.description === undefined ? '' : ` (${d.description})`}`).join(', ')}`
        })
      }
    }
  } as unknown as TSchema
}

/** GET /user/{user_id}/preference/effective/: what applies to the user, layer by layer. */
const effectiveRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = fastify.preferencesStore
  const ViewSchema = documentedViewSchema(store.registry)

  forBothSlashes((slash, doc) => {
    fastify.get(`/user/:user_id/preference/effective${slash}`, {
      schema: {
        ...doc,
        summary: 'The effective preferences',
        description: 'Every key the user set, every registered key with a default and every key a scope ' +
          'of the user (`site`, then their groups) sets, each with the value that applies, where it comes ' +
          'from and whether a scope locks it. `key` (repeatable) keeps only those keys. With If-None-Match ' +
          'holding the last ETag: 304 while nothing changed.',
        headers: ReadConditionHeadersSchema,
        params: UserParamsSchema,
        querystring: EffectiveQuerySchema,
        response: {
          200: withEtag(ViewSchema, 'The effective preferences'),
          ...notModifiedResponse,
          ...authErrorResponses
        }
      }
    }, async (request, reply) => {
      const { key } = request.query
      const keys = key === undefined ? undefined : [...new Set(Array.isArray(key) ? key : [key])]
      for (const k of keys ?? []) {
        const problem = keyProblem(k)
        if (problem !== undefined) throw new ValidationError(`querystring/key ${quotedKey(k)} ${problem}`)
      }
      const view = await store.effective(request.preferencesUserId, writeContext(request, store), keys)
      const etag = effectiveEtag(view)
      reply.header('etag', etag)
      if (notModified(request, etag)) return sendNotModified(reply)
      return view
    })
  })
}

export default effectiveRoutes
