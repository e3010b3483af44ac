import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { applyPreferencePatch, type PatchPlan } from '../db/merge-patch-repository.js'
import { mergePatch } from '../lib/json-merge-patch.js'
import { plainValue } from '../lib/json-text.js'
import { MalformedBodyError, ValidationError } from '../schemas/errors.js'
import {
  keyProblem, mergePatchBodySchema, MergePatchResultSchema, type Preference, UserParamsSchema
} from '../schemas/preference.js'
import { authErrorResponses, conflictResponse, mergePatchBodyErrorResponses } from '../schemas/responses.js'
import { MERGE_PATCH_TYPE } from '../schemas/media-types.js'
import { encodeValue, forBothSlashes, type PreferenceRouteOptions } from './shared.js'

const quoted = (key: string) => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key)

/**
 * PATCH /user/{user_id}/preference/ with an RFC 7396 merge patch of the user's preferences.
 * The composition root registers it where application/merge-patch+json is the only body
 * parser (other types are a 415 here, and merge-patch+json is a 415 everywhere else).
 */
const mergePatchRoutes: FastifyPluginAsyncTypebox<PreferenceRouteOptions> = async (fastify, options) => {
  const db = fastify.preferencesDb
  // A patch may delete every preference and create as many: more entries than that can
  // only be deletions of keys that do not exist.
  const BodySchema = mergePatchBodySchema(2 * options.maxPreferencesPerUser)

  /** The writes and deletions of `patch`, given the stored preferences it touches. */
  function plan (patch: Record<string, unknown>, current: ReadonlyMap<string, Preference>): PatchPlan {
    const result: PatchPlan = { writes: [], deletes: [] }
    for (const key of Object.keys(patch)) {
      const value = patch[key]
      if (value === null) {
        result.deletes.push(key)
        continue
      }
      let merged: unknown
      try {
        merged = mergePatch(plainValue(current.get(key)?.value), value)
      } catch {
        throw new MalformedBodyError(`The value of ${quoted(key)} is nested too deeply`)
      }
      result.writes.push({ key, valueJson: encodeValue(merged, options.maxValueBytes, `The value of ${quoted(key)}`) })
    }
    return result
  }

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
    }, async (request) => {
      const patch = request.body as Record<string, unknown>
      const keys = Object.keys(patch)
      for (const key of keys) {
        const problem = keyProblem(key)
        if (problem !== undefined) throw new ValidationError(`The key ${quoted(key)} ${problem}`)
      }
      return applyPreferencePatch(db, request.preferencesUserId, keys, (current) => plan(patch, current),
        options.maxPreferencesPerUser)
    })
  })
}

export default mergePatchRoutes
