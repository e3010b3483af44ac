import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { MERGE_PATCH_TYPE } from '../schemas/media-types.js'
import { mergePatchBodySchema, MergePatchResultSchema, UserParamsSchema } from '../schemas/preference.js'
import { authErrorResponses, conflictResponse, mergePatchBodyErrorResponses } from '../schemas/responses.js'
import { forBothSlashes, type PreferenceRouteOptions, REVISION_HEADER, writeContext } from './shared.js'

/**
 * PATCH /user/{user_id}/preference/ with an RFC 7396 merge patch of the user's preferences.
 * The composition root registers it where application/merge-patch+json is the only body
 * parser (other types are a 415 here, and merge-patch+json is a 415 everywhere else).
 */
const mergePatchRoutes: FastifyPluginAsyncTypebox<PreferenceRouteOptions> = async (fastify, options) => {
  const store = fastify.preferencesStore
  // A patch may delete every preference and create as many: more entries than that can
  // only be deletions of keys that do not exist.
  const BodySchema = mergePatchBodySchema(2 * options.maxPreferencesPerUser)

  forBothSlashes((slash, doc) => {
    fastify.patch(`/user/:user_id/preference${slash}`, {
      config: { preferencesAccepts: MERGE_PATCH_TYPE },
      schema: {
        ...doc,
        summary: 'Change many preferences at once (JSON merge patch)',
        description: 'Content-Type: application/merge-patch+json. The body is an RFC 7396 merge ' +
          'patch of {user_id}\'s preferences seen as one object of key to value: `null` deletes the ' +
          'key, an object merges into a stored object value, any other value sets it (creating the ' +
          'preference when needed). All or nothing: when any entry breaks a rule (key, value size, ' +
          'the per-user limit after the change) nothing is written and the error names the key.',
        consumes: [MERGE_PATCH_TYPE],
        params: UserParamsSchema,
        body: BodySchema,
        response: {
          200: { ...MergePatchResultSchema, description: 'Applied' },
          ...authErrorResponses,
          ...conflictResponse,
          ...mergePatchBodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const { result, rev } = await store.mergePatch(request.preferencesUserId, request.body as Record<string, unknown>,
        writeContext(request, store))
      return reply.header(REVISION_HEADER, rev).send(result)
    })
  })
}

export default mergePatchRoutes
