import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import { upsertPreferenceByKey } from '../db/by-key.js'
import { deletePreference, findPreferenceByKey } from '../db/preferences.js'
import { NotFoundError } from '../errors.js'
import { PreferenceKeyParamsSchema, UpsertPreferenceBodySchema } from '../schemas/preference.js'
import { ReadConditionHeadersSchema, WriteConditionHeadersSchema } from '../schemas/conditional.js'
import {
  authErrorResponses, bodyErrorResponses, conflictResponse, notFoundResponse, preconditionFailedResponse,
  preferenceResponse, readPreferenceResponses
} from '../schemas/responses.js'
import { preferenceEtag, replyWithPreference, writePrecondition } from './etag.js'
import type { PreferenceRouteOptions } from './preferences.js'
import { security, sendNoContent, tags } from './preferences.js'
import { bodyValueText, encodeValue } from './values.js'

/**
 * GET, PUT (upsert) and DELETE of a preference addressed by its key, percent-encoded as one
 * path segment. The onRequest hook has checked {user_id}, {key} and the caller.
 */
const byKeyRoutes: FastifyPluginAsyncTypebox<PreferenceRouteOptions> = async (fastify, options) => {
  const db = fastify.preferencesDb
  const itemLocation = (userId: number, id: number) => `${fastify.prefix}/user/${userId}/preference/${id}/`

  for (const [slash, hide] of [['/', false], ['', true]] as const) {
    const path = `/user/:user_id/preference/by-key/:key${slash}`

    fastify.get(path, {
      schema: {
        hide,
        tags,
        security,
        summary: 'Get a preference by key',
        headers: ReadConditionHeadersSchema,
        description: 'With If-None-Match holding its current ETag (or `*`): 304, no body.',
        params: PreferenceKeyParamsSchema,
        response: readPreferenceResponses
      }
    }, async (request, reply) =>
      replyWithPreference(request, reply, await findPreferenceByKey(db, request.preferencesUserId, request.preferenceKey)))

    fastify.put(path, {
      schema: {
        hide,
        tags,
        security,
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
      const valueJson = encodeValue(request.body.value, options.maxValueBytes, 'The value', bodyValueText(request.body))
      const { preference, created } = await upsertPreferenceByKey(db, userId, request.preferenceKey, valueJson,
        options.maxPreferencesPerUser, writePrecondition(request))
      reply.header('etag', preferenceEtag(preference))
      if (created) reply.code(201).header('location', itemLocation(userId, preference.id))
      return reply.send(preference)
    })

    fastify.delete(path, {
      schema: {
        hide,
        tags,
        security,
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
      const deleted = await deletePreference(db, request.preferencesUserId, { key: request.preferenceKey },
        writePrecondition(request))
      if (!deleted) throw new NotFoundError()
      return sendNoContent(reply)
    })
  }
}

export default byKeyRoutes
