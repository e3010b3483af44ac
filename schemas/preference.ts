import { Type, type Static } from '@sinclair/typebox'

/** Marks a response schema whose serialization is written by hand (preference-json.ts). */
export const SERIALIZE = Symbol.for('fastify-user-preferences.serialize')
export type SerializeAs = 'preference' | 'preference-list' | 'scope-default' | 'scope-default-list' | 'effective-view' | 'changes-page' | 'export'

/** Decimal digits without sign or leading zeros. */
const ID_PATTERN = '^[1-9][0-9]*$'

const UserIdParamSchema = Type.String({
  pattern: '^(me|[1-9][0-9]*)$',
  description: 'The owner\'s user id (a positive integer), or `me` for the authenticated caller',
  examples: ['me', '1']
})

const PreferenceIdParamSchema = Type.String({
  pattern: ID_PATTERN,
  description: 'The preference id (a positive integer)',
  examples: ['17']
})

export const UserParamsSchema = Type.Object({ user_id: UserIdParamSchema })
export const PreferenceParamsSchema = Type.Object({
  user_id: UserIdParamSchema,
  id: PreferenceIdParamSchema
})

// `u`-flag pattern: excludes C0 controls, DEL and lone surrogates (a lone surrogate
// cannot be stored as UTF-8, so it could not round-trip).
const KEY_PATTERN = '^[^\\u0000-\\u001F\\u007F\\uD800-\\uDFFF]*$'
const MAX_KEY_LENGTH = 255
const KEY_REGEXP = new RegExp(KEY_PATTERN, 'u')

/**
 * Why `key` is not a valid preference key, or undefined when it is. The same rules as
 * PreferenceKeySchema (length in code points, as JSON Schema counts), for keys that do not
 * arrive as a body field: a path segment, the members of a merge patch.
 */
export function keyProblem (key: string): string | undefined {
  const length = [...key].length
  if (length === 0) return 'must not be empty'
  if (length > MAX_KEY_LENGTH) return `must be at most ${MAX_KEY_LENGTH} characters, it has ${length}`
  if (!KEY_REGEXP.test(key)) return 'must not contain control characters (U+0000 to U+001F, U+007F) or unpaired surrogates'
  return undefined
}

export const PreferenceKeySchema = Type.String({
  minLength: 1,
  maxLength: MAX_KEY_LENGTH,
  pattern: KEY_PATTERN,
  description: '1 to 255 characters, no control characters; case-sensitive, unique per user',
  examples: ['theme']
})

/** A key as a path segment. */
export const KeyParamSchema = Type.String({
  minLength: 1,
  maxLength: MAX_KEY_LENGTH,
  pattern: KEY_PATTERN,
  description: 'The preference key, percent-encoded as a path segment (a space is %20, a slash %2F)',
  examples: ['theme', 'editor/font size']
})

export const PreferenceKeyParamsSchema = Type.Object({
  user_id: UserIdParamSchema,
  key: KeyParamSchema
})

export const PreferenceValueSchema = Type.Unknown({
  description: 'Any JSON value: object, array, string, number, boolean or null',
  examples: [{ mode: 'dark' }]
})

export const Timestamp = (description: string) => Type.String({
  format: 'date-time',
  description,
  examples: ['2026-11-28T12:00:00.000Z']
})

export const PreferenceSchema = Type.Object({
  id: Type.Integer({ description: 'Assigned by the store, unique across all users', examples: [17] }),
  user_id: Type.Integer({ description: 'The owner', examples: [1] }),
  key: Type.String({ examples: ['theme'] }),
  value: PreferenceValueSchema,
  created_at: Timestamp('When it was created (UTC, ISO 8601 with milliseconds)'),
  last_updated_at: Timestamp('When it was last changed; equals created_at until the first update')
}, {
  title: 'User Preference',
  description: 'The preference',
  examples: [{
    id: 1,
    user_id: 1,
    key: 'theme',
    value: { mode: 'dark' },
    created_at: '2026-11-28T12:00:00.000Z',
    last_updated_at: '2026-11-28T12:00:00.000Z'
  }]
})

// Written by hand (preference-json.ts) so that values go out as their stored JSON text.
Object.assign(PreferenceSchema, { [SERIALIZE]: 'preference' })

export type Preference = Static<typeof PreferenceSchema>

export const CreatePreferenceBodySchema = Type.Object({
  key: PreferenceKeySchema,
  value: PreferenceValueSchema
}, {
  description: 'Other fields, read-only ones included, are ignored. As JSON, or as a form: fields ' +
    '`key=...&value=<JSON text>`, or a whole JSON document sent as application/x-www-form-urlencoded',
  // Named examples for the OpenAPI document (@fastify/swagger moves them to the media type).
  'x-examples': {
    object: { summary: 'An object value', value: { key: 'theme', value: { mode: 'dark' } } },
    reference: {
      summary: 'The original API reference\'s example body',
      description: 'The body of the create example of the API reference this one follows, sent there ' +
        'as application/x-www-form-urlencoded with a JSON document as the whole body. Its `value` is ' +
        'the string "json"; any JSON value may stand there.',
      value: { key: 'string', value: 'json' }
    }
  }
})
export type CreatePreferenceBody = Static<typeof CreatePreferenceBodySchema>

export const ReplacePreferenceBodySchema = CreatePreferenceBodySchema

export const UpsertPreferenceBodySchema = Type.Object({
  value: PreferenceValueSchema
}, {
  description: 'The key is in the path; other fields are ignored',
  examples: [{ value: { mode: 'dark' } }]
})
export type UpsertPreferenceBody = Static<typeof UpsertPreferenceBodySchema>

export const PatchPreferenceBodySchema = Type.Object({
  key: Type.Optional(PreferenceKeySchema),
  value: Type.Optional(PreferenceValueSchema)
}, {
  description: 'At least one of key and value; other fields are ignored',
  examples: [{ value: { mode: 'light' } }]
})
export type PatchPreferenceBody = Static<typeof PatchPreferenceBodySchema>

export const DEFAULT_PAGE_SIZE = 100

export function listQuerySchema (maxPageSize: number) {
  return Type.Object({
    key: Type.Optional(Type.String({ description: 'Only the preference with exactly this key (case-sensitive)' })),
    search: Type.Optional(Type.String({ description: 'Same as key: an exact, case-sensitive match on the key' })),
    limit: Type.Optional(Type.Integer({
      minimum: 1, maximum: maxPageSize, default: Math.min(DEFAULT_PAGE_SIZE, maxPageSize), description: 'Page size'
    })),
    offset: Type.Optional(Type.Integer({
      minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'How many matching preferences to skip'
    }))
  })
}
export type ListPreferencesQuery = Static<ReturnType<typeof listQuerySchema>>

export const PreferenceListSchema = Type.Object({
  count: Type.Integer({ description: 'How many preferences match, over all pages' }),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Absolute URL of the next page, or null' }),
  previous: Type.Union([Type.String(), Type.Null()], { description: 'Absolute URL of the previous page, or null' }),
  results: Type.Array(PreferenceSchema)
}, { title: 'Preference page', description: 'A page of preferences, ordered by id' })
Object.assign(PreferenceListSchema, { [SERIALIZE]: 'preference-list' })

export type PreferenceList = Static<typeof PreferenceListSchema>

export function mergePatchBodySchema (maxEntries: number) {
  return Type.Object({}, {
    additionalProperties: Type.Unknown(),
    maxProperties: maxEntries,
    description: 'An object of key to value (RFC 7396 JSON merge patch of the user\'s preferences ' +
      'seen as one object): null deletes the key; an object merges into a stored object value; ' +
      'anything else sets the value. Keys follow the usual key rules.',
    examples: [{ theme: { mode: 'dark', accent: null }, 'tour.seen': true, legacy_flag: null }]
  })
}

export const MergePatchResultSchema = Type.Object({
  results: Type.Array(PreferenceSchema, { description: 'The created or updated preferences, in patch order' }),
  deleted: Type.Array(Type.String(), { description: 'The keys that existed and were deleted, in patch order' })
}, { title: 'Merge patch result' })
export type MergePatchResult = Static<typeof MergePatchResultSchema>
