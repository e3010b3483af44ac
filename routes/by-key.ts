import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import { bodyValueText } from '../lib/json-body.js'
import { NotFoundError } from '../schemas/errors.js'
import { PreferenceKeyParamsSchema, UpsertPreferenceBodySchema } from '../schemas/preference.js'
import { ReadConditionHeadersSchema, WriteConditionHeadersSchema } from '../schemas/conditional-headers.js'
import {
  authErrorResponses, bodyErrorResponses, conflictResponse, notFoundResponse, preconditionFailedResponse,
  preferenceResponse, readPreferenceResponses
} from '../schemas/responses.js'
import { preferenceEtag, replyWithPreference, writePrecondition } from './conditional.js'
import { forBothSlashes, itemLocation, type PreferenceRouteOptions, REVISION_HEADER, sendNoContent, writeContext } from './shared.js'

/**
 * GET, PUT (upsert) and DELETE of a preference addressed by its key, percent-encoded as one
 * path segment. The onRequest hook has checked {user_id}, {key} and the caller.
 */
const byKeyRoutes: FastifyPluginAsyncTypebox<PreferenceRouteOptions> = async (fastify) => {
  const store = fastify.preferencesStore
  forBothSlashes((slash, doc) => {
    const path = `/user/:user_id/preference/by-key/:key${slash}`

    fastify.get(path, {
      schema: {
        ...doc,
        summary: 'Get a preference by key',
        headers: ReadConditionHeadersSchema,
        description: 'With If-None-Match holding its current ETag (or `*`): 304, no body.',
        params: PreferenceKeyParamsSchema,
        response: readPreferenceResponses
      }
    }, async (request, reply) =>
      replyWithPreference(request, reply, await store.get(request.preferencesUserId, request.preferenceKey)))

    fastify.put(path, {
      schema: {
        ...doc,
        summary: 'Set a preference by key (create or replace)',
        headers: WriteConditionHeadersSchema,
        description: 'Sets the value of {key}, creating the preference when it does not exist. ' +
          'If-Match: replace only if it exists with that ETag (412 otherwise). ' +
          'If-None-Match: * : create only (412 if it exists).',
        params: PreferenceKeyParamsSchema,
        body: UpsertPreferenceBodySchema,
        response: {
          200: preferenceResponse('Replaced'),
          201: preferenceResponse('Created; Location names it by id', true),
          ...authErrorResponses,
          ...conflictResponse,
          ...preconditionFailedResponse,
          ...bodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const userId = request.preferencesUserId
      const { result: { preference, created }, rev } = await store.upsert(userId, request.preferenceKey, request.body.value,
        writeContext(request, store), { text: bodyValueText(request.body), precondition: writePrecondition(request) })
      reply.header('etag', preferenceEtag(preference)).header(REVISION_HEADER, rev)
      if (created) reply.code(201).header('location', itemLocation(fastify.prefix, userId, preference.id))
      return reply.send(preference)
    })

    fastify.delete(path, {
      schema: {
        ...doc,
        summary: 'Delete a preference by key',
        headers: WriteConditionHeadersSchema,
        description: 'With If-Match: 412 unless it holds the preference\'s current ETag.',
        params: PreferenceKeyParamsSchema,
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
      const deleted = await store.remove(request.preferencesUserId, { key: request.preferenceKey },
        writeContext(request, store), writePrecondition(request))
      if (deleted === undefined) throw new NotFoundError()
      return sendNoContent(reply.header(REVISION_HEADER, deleted.rev))
    })
  })
}

export default byKeyRoutes
