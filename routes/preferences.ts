import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import {
  createPreference, deletePreference, findPreference, listPreferences, updatePreference
} from '../db/preferences.js'
import { EmptyPatchError, MalformedBodyError, NotFoundError, ValueTooLargeError } from '../errors.js'
import {
  CreatePreferenceBodySchema, DEFAULT_PAGE_SIZE, listQuerySchema, PatchPreferenceBodySchema,
  PreferenceListSchema, PreferenceParamsSchema, PreferenceSchema, ReplacePreferenceBodySchema,
  UserParamsSchema
} from '../schemas/preference.js'
import {
  authErrorResponses, bodyErrorResponses, conflictResponse, createdResponse, notFoundResponse
} from '../schemas/responses.js'

export interface PreferenceRouteOptions {
  maxValueBytes: number
  maxPreferencesPerUser: number
  maxPageSize: number
}

const security = [{ bearerAuth: [] }]
const tags = ['preferences']

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

  function encodeValue (value: unknown): string {
    let json: string
    try {
      json = JSON.stringify(value)
    } catch {
      throw new MalformedBodyError('The value is nested too deeply')
    }
    const bytes = Buffer.byteLength(json)
    if (bytes > options.maxValueBytes) throw new ValueTooLargeError(bytes, options.maxValueBytes)
    return json
  }

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
      const preference = await createPreference(db, userId, { key, valueJson: encodeValue(value) },
        options.maxPreferencesPerUser)
      return reply.code(201).header('location', itemLocation(userId, preference.id)).send(preference)
    })

    fastify.get(collection, {
      schema: {
        hide,
        tags,
        security,
        summary: 'List preferences',
        description: 'A page of {user_id}\'s preferences, ordered by id.',
        params: UserParamsSchema,
        querystring: ListQuerySchema,
        response: {
          200: PreferenceListSchema,
          ...authErrorResponses
        }
      }
    }, async (request) => {
      const { key, search, limit = Math.min(DEFAULT_PAGE_SIZE, options.maxPageSize), offset = 0 } = request.query
      const keys = [key, search].filter((k): k is string => k !== undefined)
      const page = await listPreferences(db, request.preferencesUserId, { keys, limit, offset })
      return {
        count: page.count,
        next: offset + limit < page.count ? pageUrl(request, offset + limit) : null,
        previous: offset > 0 ? pageUrl(request, Math.max(0, offset - limit)) : null,
        results: page.results
      }
    })

    fastify.get(item, {
      schema: {
        hide,
        tags,
        security,
        summary: 'Get a preference',
        params: PreferenceParamsSchema,
        response: {
          200: PreferenceSchema,
          ...authErrorResponses,
          ...notFoundResponse
        }
      }
    }, async (request) => {
      const preference = await findPreference(db, request.preferencesUserId, request.preferenceId)
      if (preference === undefined) throw new NotFoundError()
      return preference
    })

    fastify.patch(item, {
      schema: {
        hide,
        tags,
        security,
        summary: 'Update a preference',
        description: 'Changes the key, the value or both.',
        params: PreferenceParamsSchema,
        body: PatchPreferenceBodySchema,
        response: {
          200: PreferenceSchema,
          ...authErrorResponses,
          ...notFoundResponse,
          ...conflictResponse,
          ...bodyErrorResponses
        }
      }
    }, async (request) => {
      const { key, value } = request.body
      if (key === undefined && !Object.hasOwn(request.body, 'value')) throw new EmptyPatchError()
      const valueJson = Object.hasOwn(request.body, 'value') ? encodeValue(value) : undefined
      const preference = await updatePreference(db, request.preferencesUserId, request.preferenceId,
        { key, valueJson })
      if (preference === undefined) throw new NotFoundError()
      return preference
    })

    fastify.put(item, {
      schema: {
        hide,
        tags,
        security,
        summary: 'Replace a preference',
        description: 'Sets both key and value. Never creates: an absent id is a 404.',
        params: PreferenceParamsSchema,
        body: ReplacePreferenceBodySchema,
        response: {
          200: PreferenceSchema,
          ...authErrorResponses,
          ...notFoundResponse,
          ...conflictResponse,
          ...bodyErrorResponses
        }
      }
    }, async (request) => {
      const { key, value } = request.body
      const preference = await updatePreference(db, request.preferencesUserId, request.preferenceId,
        { key, valueJson: encodeValue(value) })
      if (preference === undefined) throw new NotFoundError()
      return preference
    })

    fastify.delete(item, {
      schema: {
        hide,
        tags,
        security,
        summary: 'Delete a preference',
        params: PreferenceParamsSchema,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...authErrorResponses,
          ...notFoundResponse
        }
      }
    }, async (request, reply) => {
      const deleted = await deletePreference(db, request.preferencesUserId, request.preferenceId)
      if (!deleted) throw new NotFoundError()
      return reply.code(204).send(null)
    })
  }
}

export default preferenceRoutes
