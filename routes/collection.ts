import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import type { FastifyRequest } from 'fastify'
import { bodyValueText } from '../lib/json-body.js'
import {
  CreatePreferenceBodySchema, DEFAULT_PAGE_SIZE, listQuerySchema, PreferenceListSchema, UserParamsSchema
} from '../schemas/preference.js'
import { ReadConditionHeadersSchema } from '../schemas/conditional-headers.js'
import {
  authErrorResponses, bodyErrorResponses, conflictResponse, createdResponse, notModifiedResponse, withEtag
} from '../schemas/responses.js'
import { listEtag, notModified, preferenceEtag, sendNotModified } from './conditional.js'
import { forBothSlashes, itemLocation, type PreferenceRouteOptions, REVISION_HEADER, writeContext } from './shared.js'

/** Absolute URL of this list request with `offset` moved; other parameters kept. */
function pageUrl (request: FastifyRequest, offset: number): string {
  const [path, query = ''] = request.url.split('?', 2)
  const params = new URLSearchParams(query)
  params.set('offset', String(offset))
  return `${request.protocol}://${request.host}${path}?${params.toString()}`
}

/** POST (create) and GET (list) on /user/{user_id}/preference/. */
const collectionRoutes: FastifyPluginAsyncTypebox<PreferenceRouteOptions> = async (fastify, options) => {
  const store = fastify.preferencesStore
  const ListQuerySchema = listQuerySchema(options.maxPageSize)

  forBothSlashes((slash, doc) => {
    const collection = `/user/:user_id/preference${slash}`

    fastify.post(collection, {
      schema: {
        ...doc,
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
      const { result: preference, rev } = await store.create(userId, key, value, writeContext(request, store), bodyValueText(request.body))
      return reply.code(201).header('location', itemLocation(fastify.prefix, userId, preference.id))
        .header('etag', preferenceEtag(preference)).header(REVISION_HEADER, rev).send(preference)
    })

    fastify.get(collection, {
      schema: {
        ...doc,
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
      const page = await store.list(request.preferencesUserId, { keys, limit, offset })
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
  })
}

export default collectionRoutes
