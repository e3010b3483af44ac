import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import { ExportDocumentSchema, ImportBodySchema, ImportQuerySchema, ImportReportSchema } from '../schemas/portability.js'
import { UserParamsSchema } from '../schemas/preference.js'
import { authErrorResponses, bodyErrorResponses, error } from '../schemas/responses.js'
import { forBothSlashes, REVISION_HEADER, sendNoContent, writeContext } from './shared.js'

const revisionHeader = {
  'Preference-Revision': Type.String({ pattern: '^[0-9]+$', description: 'The user\'s revision after the write' })
}

/** GET .../preference/export/ and DELETE .../preference/ (erase everything). */
export const portabilityRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = fastify.preferencesStore

  forBothSlashes((slash, doc) => {
    fastify.get(`/user/:user_id/preference/export${slash}`, {
      schema: {
        ...doc,
        summary: 'Export all of a user\'s preferences',
        description: 'The user\'s own preferences (no defaults) as one document, served as a download ' +
          '(Content-Disposition: attachment). POST it to `import/` to restore it, for this user or another.',
        params: UserParamsSchema,
        response: {
          200: {
            ...ExportDocumentSchema,
            description: 'The export document',
            headers: { 'Content-Disposition': Type.String({ description: 'attachment, with a file name naming the user and revision' }) }
          },
          ...authErrorResponses
        }
      }
    }, async (request, reply) => {
      const userId = request.preferencesUserId
      const document = await store.exportPreferences(userId)
      return reply.header('content-disposition', `attachment; filename="preferences-user-${userId}-rev-${document.rev}.json"`)
        .send(document as never)
    })

    fastify.delete(`/user/:user_id/preference${slash}`, {
      schema: {
        ...doc,
        summary: 'Erase all of a user\'s preferences',
        description: 'Deletes every preference of {user_id} and their change history, in one transaction. ' +
          'The erasure is one revision (`erased: true`, no changes), the only one kept: the change feed ' +
          'answers 410 for any revision before it, key histories are empty, open event streams get `reset`. ' +
          'The revision number keeps counting. A caller who is not an admin cannot erase read-only or locked keys (403).',
        params: UserParamsSchema,
        response: {
          204: { ...Type.Null({ description: 'Erased' }), headers: revisionHeader },
          ...authErrorResponses,
          // A DELETE needs no body, but one that is sent is read like any other.
          ...bodyErrorResponses
        }
      }
    }, async (request, reply) => {
      const { rev } = await store.erase(request.preferencesUserId, writeContext(request, store))
      return sendNoContent(reply.header(REVISION_HEADER, rev))
    })
  })
}

export interface ImportRouteOptions {
  maxImportBytes: number
}

/**
 * POST .../preference/import/. The composition root registers it where JSON is the only body
 * type, and the route has its own body limit (`maxImportBytes`).
 */
export const importRoutes: FastifyPluginAsyncTypebox<ImportRouteOptions> = async (fastify, options) => {
  const store = fastify.preferencesStore

  forBothSlashes((slash, doc) => {
    fastify.post(`/user/:user_id/preference/import${slash}`, {
      bodyLimit: options.maxImportBytes,
      config: { preferencesAccepts: 'application/json' },
      schema: {
        ...doc,
        summary: 'Import preferences (merge or replace), optionally as a dry run',
        description: '`mode=merge` (default) sets the document\'s keys and keeps the others; `mode=replace` ' +
          'also deletes the keys it does not have. All or nothing, one revision, checked like every write ' +
          '(value sizes, read-only keys and locks, the key registry, the per-user limit). Keys whose value ' +
          'is already the same are reported as unchanged and not written. `dry_run=true` reports what would ' +
          `happen and writes nothing. The body may be up to ${options.maxImportBytes} bytes.`,
        params: UserParamsSchema,
        querystring: ImportQuerySchema,
        body: ImportBodySchema,
        response: {
          200: { ...ImportReportSchema, description: 'What the import changed (or would change)', headers: revisionHeader },
          ...authErrorResponses,
          409: error('The user would hold more preferences than allowed (PREFERENCE_LIMIT_REACHED)'),
          413: error('A value or the body is too large (PREFERENCE_VALUE_TOO_LARGE, PREFERENCE_BODY_TOO_LARGE); the message names the key'),
          415: error('Content-Type is not application/json (PREFERENCE_UNSUPPORTED_MEDIA_TYPE), or Content-Encoding is not identity (PREFERENCE_UNSUPPORTED_CONTENT_ENCODING)')
        }
      }
    }, async (request, reply) => {
      const { mode = 'merge', dry_run: dryRun = false } = request.query
      const report = await store.importPreferences(request.preferencesUserId, request.body.preferences, { mode, dryRun },
        writeContext(request, store))
      return reply.header(REVISION_HEADER, report.rev).send(report)
    })
  })
}
