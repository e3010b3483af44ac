import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import { bodyValueText } from '../lib/json-body.js'
import { EmptyPatchError, NotFoundError } from '../schemas/errors.js'
import { PatchPreferenceBodySchema, PreferenceParamsSchema, ReplacePreferenceBodySchema } from '../schemas/preference.js'
import { ReadConditionHeadersSchema, WriteConditionHeadersSchema } from '../schemas/conditional-headers.js'
import {
  authErrorResponses, bodyErrorResponses, conflictResponse, notFoundResponse, preconditionFailedResponse,
  preferenceResponse, readPreferenceResponses
} from '../schemas/responses.js'
import { preferenceEtag, replyWithPreference, writePrecondition } from './conditional.js'
import { forBothSlashes, type PreferenceRouteOptions, REVISION_HEADER, sendNoContent, writeContext } from './shared.js'

/** GET, PATCH, PUT and DELETE of /user/{user_id}/preference/{id}/. */
const itemRoutes: FastifyPluginAsyncTypebox<PreferenceRouteOptions> = async (fastify) => {
  const store = fastify.preferencesStore

  forBothSlashes((slash, doc) => {
    const item = `/user/:user_id/preference/:id${slash}`

    fastify.get(item, {
      schema: {
        ...doc,
        summary: 'Get a preference',
        headers: ReadConditionHeadersSchema,
        description: 'With If-None-Match holding its current ETag (or `*`): 304, no body.',
        params: PreferenceParamsSchema,
        response: readPreferenceResponses
      }
    }, async (request, reply) =>
      replyWithPreference(request, reply, await store.getById(request.preferencesUserId, request.preferenceId)))

    fastify.patch(item, {
      schema: {
        ...doc,
        summary: 'Update a preference',
        headers: WriteConditionHeadersSchema,
        description: 'Changes the key, the value or both. With If-Match: 412 unless it holds the ' +
          'preference\'s current ETag (an absent preference stays a 404).',
        params: PreferenceParamsSchema,
        body: PatchPreferenceBodySchema,
        response: {
          200: preferenceResponse('The updated preference'),
          ...authErrorResponses,
          ...notFoundResponse,
          ...conflictResponse,
          ...preconditionFailedResponse,
          ...bodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const { key, value } = request.body
      const hasValue = Object.hasOwn(request.body, 'value')
      if (key === undefined && !hasValue) throw new EmptyPatchError()
      const updated = await store.update(request.preferencesUserId, request.preferenceId,
        { ...(key !== undefined && { key }), ...(hasValue && { value }) }, writeContext(request, store),
        { text: bodyValueText(request.body), precondition: writePrecondition(request) })
      if (updated === undefined) throw new NotFoundError()
      return reply.header('etag', preferenceEtag(updated.result)).header(REVISION_HEADER, updated.rev).send(updated.result)
    })

    fastify.put(item, {
      schema: {
        ...doc,
        summary: 'Replace a preference',
        headers: WriteConditionHeadersSchema,
        description: 'Sets both key and value. Never creates: an absent id is a 404. With ' +
          'If-Match: 412 unless it holds the preference\'s current ETag.',
        params: PreferenceParamsSchema,
        body: ReplacePreferenceBodySchema,
        response: {
          200: preferenceResponse('The updated preference'),
          ...authErrorResponses,
          ...notFoundResponse,
          ...conflictResponse,
          ...preconditionFailedResponse,
          ...bodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const { key, value } = request.body
      const updated = await store.update(request.preferencesUserId, request.preferenceId, { key, value },
        writeContext(request, store), { text: bodyValueText(request.body), precondition: writePrecondition(request) })
      if (updated === undefined) throw new NotFoundError()
      return reply.header('etag', preferenceEtag(updated.result)).header(REVISION_HEADER, updated.rev).send(updated.result)
    })

    fastify.delete(item, {
      schema: {
        ...doc,
        summary: 'Delete a preference',
        headers: WriteConditionHeadersSchema,
        description: 'With If-Match: 412 unless it holds the preference\'s current ETag.',
        params: PreferenceParamsSchema,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...authErrorResponses,
          ...notFoundResponse,
          ...preconditionFailedResponse,
          // A DELETE needs no body, but one that is sent is read like any other.
          ...bodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const deleted = await store.remove(request.preferencesUserId, { id: request.preferenceId },
        writeContext(request, store), writePrecondition(request))
      if (deleted === undefined) throw new NotFoundError()
      return sendNoContent(reply.header(REVISION_HEADER, deleted.rev))
    })
  })
}

export default itemRoutes
