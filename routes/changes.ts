import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import type { FastifyRequest } from 'fastify'
import { PreferenceKeyParamsSchema, UserParamsSchema } from '../schemas/preference.js'
import { authErrorResponses, error } from '../schemas/responses.js'
import { type ChangesPage, ChangesPageSchema, ChangesQuerySchema, HistorySchema } from '../schemas/revision.js'
import { forBothSlashes } from './shared.js'

/** Absolute URL of this request with `since` moved; other parameters kept. */
function sinceUrl (request: FastifyRequest, since: number): string {
  const [path, query = ''] = request.url.split('?', 2)
  const params = new URLSearchParams(query)
  params.set('since', String(since))
  return `${request.protocol}://${request.host}${path}?${params.toString()}`
}

const expiredResponse = {
  410: error('Some revisions after `since` are no longer kept, or `since` is beyond the current revision: list again (PREFERENCE_CHANGES_EXPIRED)')
}

/** The change feed (GET .../changes/?since=) and a key's history. */
const changeRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = fastify.preferencesStore

  forBothSlashes((slash, doc) => {
    fastify.get(`/user/:user_id/preference/changes${slash}`, {
      schema: {
        ...doc,
        summary: 'The revisions after a given one',
        description: 'Every kept revision after `since`, oldest first, `limit` at a time (`next` names the ' +
          'following page). A client that was offline asks with the last revision it has; a 410 tells it ' +
          'to list everything again.',
        params: UserParamsSchema,
        querystring: ChangesQuerySchema,
        response: { 200: { ...ChangesPageSchema, description: 'A page of revisions' }, ...authErrorResponses, ...expiredResponse }
      }
    }, async (request, reply) => {
      const { since = 0, limit = 100 } = request.query
      const { rev, results, more } = await store.changes(request.preferencesUserId, since, limit)
      const page: ChangesPage = { rev, results, next: more ? sinceUrl(request, results[results.length - 1].rev) : null }
      // The page's serializer writes the log's rows as stored (schemas/preference-json.ts).
      return reply.send(page as never)
    })

    fastify.get(`/user/:user_id/preference/by-key/:key/history${slash}`, {
      schema: {
        ...doc,
        summary: 'The history of one key',
        description: 'The kept revisions that set or deleted the key, newest first.',
        params: PreferenceKeyParamsSchema,
        response: { 200: { ...HistorySchema, description: 'The key\'s revisions' }, ...authErrorResponses }
      }
    }, async (request) => ({ results: await store.history(request.preferencesUserId, request.preferenceKey) }))
  })
}

export default changeRoutes
