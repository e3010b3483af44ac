import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  createPreference, deletePreference, findPreference, listPreferences, updatePreference
} from '../db/preferences.js'
import { EmptyPatchError, NotFoundError } from '../errors.js'
import {
  CreatePreferenceBodySchema, DEFAULT_PAGE_SIZE, listQuerySchema, PatchPreferenceBodySchema,
  PreferenceListSchema, PreferenceParamsSchema, ReplacePreferenceBodySchema,
  UserParamsSchema
} from '../schemas/preference.js'
import { ReadConditionHeadersSchema, WriteConditionHeadersSchema } from '../schemas/conditional.js'
import {
  authErrorResponses, bodyErrorResponses, conflictResponse, createdResponse, notFoundResponse, notModifiedResponse,
  preconditionFailedResponse, preferenceResponse, readPreferenceResponses, withEtag
} from '../schemas/responses.js'
import {
  listEtag, notModified, preferenceEtag, replyWithPreference, sendNotModified, writePrecondition
} from './etag.js'
import { bodyValueText, encodeValue } from './values.js'

export interface PreferenceRouteOptions {
  maxValueBytes: number
  maxPreferencesPerUser: number
  maxPageSize: number
}

export const security = [{ bearerAuth: [] }]
/**
 * 204 without a payload: Fastify then neither serialises one nor deletes the content headers
 * again (a reply.send(null) does both).
 */
export const sendNoContent = (reply: FastifyReply): FastifyReply => reply.code(204).send()

export const tags = ['preferences']

/** Absolute URL of this list request with `offset` moved; other parameters kept. */
function pageUrl (request: FastifyRequest, offset: number): string {
  const [path, query = ''] = request.url.split('?', 2)
  const params = new URLSearchParams(query)
  params.set('offset', String(offset))
  return `${request.protocol}://${request.host}${path}?${params.toString()}`
}

const preferenceRoutes: FastifyPluginAsyncTypebox<PreferenceRouteOptions> = async (fastify, options) => {
  const db = fastify.preferencesDb
  const ListQuerySchema = listQuerySchema(options.maxPageSize)

  const encode = (value: unknown, body: object) => encodeValue(value, options.maxValueBytes, 'The value', bodyValueText(body))

  const itemLocation = (userId: number, id: number) => `${fastify.prefix}/user/${userId}/preference/${id}/`

  // Every path works with and without its trailing slash; the OpenAPI document lists the
  // canonical (slashed) form only.
  for (const [slash, hide] of [['/', false], ['', true]] as const) {
    const collection = `/user/:user_id/preference${slash}`
    const item = `/user/:user_id/preference/:id${slash}`

    fastify.post(collection, {
      schema: {
        hide,
        tags,
        security,
        summary: 'Create a preference',
        description: 'Creates a preference for {user_id}. The caller must be that user or an admin.',
        params: UserParamsSchema,
        body: CreatePreferenceBodySchema,
        response: {
          201: createdResponse,
          ...authErrorResponses,
          ...conflictResponse,
          ...bodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const userId = request.preferencesUserId
      const { key, value } = request.body
      const preference = await createPreference(db, userId, { key, valueJson: encode(value, request.body) },
        options.maxPreferencesPerUser)
      return reply.code(201).header('location', itemLocation(userId, preference.id))
        .header('etag', preferenceEtag(preference)).send(preference)
    })

    fastify.get(collection, {
      schema: {
        hide,
        tags,
        security,
        summary: 'List preferences',
        headers: ReadConditionHeadersSchema,
        description: 'A page of {user_id}\'s preferences, ordered by id. With If-None-Match ' +
          'holding the ETag of the same request\'s last response: 304 while nothing listed changed.',
        params: UserParamsSchema,
        querystring: ListQuerySchema,
        response: {
          200: withEtag(PreferenceListSchema, 'A page of preferences'),
          ...notModifiedResponse,
          ...authErrorResponses
        }
      }
    }, async (request, reply) => {
      const { key, search, limit = Math.min(DEFAULT_PAGE_SIZE, options.maxPageSize), offset = 0 } = request.query
      const keys = [key, search].filter((k): k is string => k !== undefined)
      const page = await listPreferences(db, request.preferencesUserId, { keys, limit, offset })
      const body = {
        count: page.count,
        next: offset + limit < page.count ? pageUrl(request, offset + limit) : null,
        previous: offset > 0 ? pageUrl(request, Math.max(0, offset - limit)) : null,
        results: page.results
      }
      // The tag hashes the whole body, so it changes when any listed preference (or the count) does.
      const etag = listEtag(body)
      reply.header('etag', etag)
      if (notModified(request, etag)) return sendNotModified(reply)
      return body
    })

    fastify.get(item, {
      schema: {
        hide,
        tags,
        security,
        summary: 'Get a preference',
        headers: ReadConditionHeadersSchema,
        description: 'With If-None-Match holding its current ETag (or `*`): 304, no body.',
        params: PreferenceParamsSchema,
        response: readPreferenceResponses
      }
    }, async (request, reply) =>
      replyWithPreference(request, reply, await findPreference(db, request.preferencesUserId, request.preferenceId)))

    fastify.patch(item, {
      schema: {
        hide,
        tags,
        security,
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
      if (key === undefined && !Object.hasOwn(request.body, 'value')) throw new EmptyPatchError()
      const valueJson = Object.hasOwn(request.body, 'value') ? encode(value, request.body) : undefined
      const preference = await updatePreference(db, request.preferencesUserId, request.preferenceId,
        { key, valueJson }, writePrecondition(request))
      if (preference === undefined) throw new NotFoundError()
      return reply.header('etag', preferenceEtag(preference)).send(preference)
    })

    fastify.put(item, {
      schema: {
        hide,
        tags,
        security,
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
      const preference = await updatePreference(db, request.preferencesUserId, request.preferenceId,
        { key, valueJson: encode(value, request.body) }, writePrecondition(request))
      if (preference === undefined) throw new NotFoundError()
      return reply.header('etag', preferenceEtag(preference)).send(preference)
    })

    fastify.delete(item, {
      schema: {
        hide,
        tags,
        security,
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
      const deleted = await deletePreference(db, request.preferencesUserId, { id: request.preferenceId },
        writePrecondition(request))
      if (!deleted) throw new NotFoundError()
      return sendNoContent(reply)
    })
  }
}

export default preferenceRoutes
