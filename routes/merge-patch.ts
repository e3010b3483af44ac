import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { applyPreferencePatch, type PatchPlan } from '../db/merge-patch.js'
import { MalformedBodyError, ValidationError } from '../errors.js'
import { addJsonParser } from '../plugins/body-parsers.js'
import {
  keyProblem, mergePatchBodySchema, MergePatchResultSchema, type Preference, UserParamsSchema
} from '../schemas/preference.js'
import { authErrorResponses, conflictResponse, mergePatchBodyErrorResponses } from '../schemas/responses.js'
import { mergePatch } from './json-merge-patch.js'
import type { PreferenceRouteOptions } from './preferences.js'
import { security, tags } from './preferences.js'
import { encodeValue } from './values.js'
import { plainValue } from '../schemas/json-text.js'

export interface MergePatchRouteOptions extends PreferenceRouteOptions {
  bodyLimit: number
}

export const MERGE_PATCH_TYPE = 'application/merge-patch+json'

const quoted = (key: string) => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key)

/**
 * PATCH /user/{user_id}/preference/ with an RFC 7396 merge patch of the user's preferences.
 * Registered as its own encapsulated plugin: only here is application/merge-patch+json parsed,
 * and only it (other types are a 415 here, and merge-patch+json is a 415 everywhere else).
 */
const mergePatchRoutes: FastifyPluginAsyncTypebox<MergePatchRouteOptions> = async (fastify, options) => {
  const db = fastify.preferencesDb
  fastify.removeAllContentTypeParsers()
  addJsonParser(fastify, MERGE_PATCH_TYPE, options.bodyLimit)
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

  for (const [slash, hide] of [['/', false], ['', true]] as const) {
    fastify.patch(`/user/:user_id/preference${slash}`, {
      config: { preferencesAccepts: MERGE_PATCH_TYPE },
      schema: {
        hide,
        tags,
        security,
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
  }
}

export default mergePatchRoutes
