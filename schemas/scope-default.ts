import { type Static, Type } from '@sinclair/typebox'
import { KeyParamSchema, PreferenceValueSchema, SERIALIZE, Timestamp } from './preference.js'

/** `site`, or a group name: 1 to 64 of letters, digits and `_ . : -`. */
export const SCOPE_PATTERN = '^[A-Za-z0-9_.:-]{1,64}$'
const SCOPE_REGEXP = new RegExp(SCOPE_PATTERN)
export const isScopeName = (scope: string): boolean => SCOPE_REGEXP.test(scope)

export const ScopeParamSchema = Type.String({
  pattern: SCOPE_PATTERN,
  description: '`site` (everyone) or a group name (1 to 64 of letters, digits and `_ . : -`)',
  examples: ['site', 'team-red']
})

export const ScopeParamsSchema = Type.Object({ scope: ScopeParamSchema })
export const ScopeKeyParamsSchema = Type.Object({ scope: ScopeParamSchema, key: KeyParamSchema })

export const ScopeDefaultSchema = Type.Object({
  scope: Type.String({ examples: ['site'] }),
  key: Type.String({ examples: ['theme'] }),
  value: PreferenceValueSchema,
  locked: Type.Boolean({ description: 'When true, every user under the scope gets this value, whatever they stored' }),
  last_updated_at: Timestamp('When it was last set')
}, { title: 'Scope default', description: 'A default value of one key for a scope' })
Object.assign(ScopeDefaultSchema, { [SERIALIZE]: 'scope-default' })
export type ScopeDefault = Static<typeof ScopeDefaultSchema>

export const ScopeDefaultListSchema = Type.Object({
  scope: Type.String(),
  results: Type.Array(ScopeDefaultSchema, { description: 'Ordered by key' })
}, { title: 'Scope defaults' })
Object.assign(ScopeDefaultListSchema, { [SERIALIZE]: 'scope-default-list' })
export type ScopeDefaultList = Static<typeof ScopeDefaultListSchema>

export const PutScopeDefaultBodySchema = Type.Object({
  value: PreferenceValueSchema,
  locked: Type.Optional(Type.Boolean({ default: false, description: 'Default false' }))
}, {
  description: 'Other fields are ignored',
  examples: [{ value: 'dark', locked: false }]
})
export type PutScopeDefaultBody = Static<typeof PutScopeDefaultBodySchema>
