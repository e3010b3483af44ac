import { type Static, Type } from '@sinclair/typebox'
import { SERIALIZE } from './preference.js'

// Entries sit under additionalProperties, where @fastify/swagger leaves `examples` (not
// OpenAPI 3.0) as they are: their fields carry none.
export const EffectiveEntrySchema = Type.Object({
  value: Type.Unknown({ description: 'The value that applies' }),
  source: Type.String({
    description: '`user` (the user\'s own value), `registry` (the key\'s registered default) or `scope:<name>` (a scope default)'
  }),
  locked: Type.Boolean({ description: 'True when a scope locks the key: its value applies whatever the user stored' }),
  user_value_invalid: Type.Optional(Type.Literal(true, {
    description: 'Present (true) when the user\'s stored value fails the key\'s current schema and was skipped'
  }))
})
export type EffectiveEntry = Static<typeof EffectiveEntrySchema>

export const EffectiveViewSchema = Type.Object({
  rev: Type.Integer({ description: 'The user\'s revision (see the change feed): 0 before any change' }),
  preferences: Type.Object({}, {
    additionalProperties: EffectiveEntrySchema,
    description: 'Every key the user set, every registered key with a default, every key an applicable scope sets'
  })
}, {
  title: 'Effective preferences',
  description: 'What applies to the user: registry default, then site, then the user\'s groups, then the user\'s own value; a lock wins over all',
  examples: [{ rev: 3, preferences: { theme: { value: 'dark', source: 'user', locked: false } } }]
})
Object.assign(EffectiveViewSchema, { [SERIALIZE]: 'effective-view' })
// Written out: TypeBox's Static does not carry `additionalProperties` (a Type.Record would, but
// its patternProperties are not OpenAPI 3.0).
export interface EffectiveView {
  rev: number
  preferences: Record<string, EffectiveEntry>
}

export const EffectiveQuerySchema = Type.Object({
  key: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 1000 })], {
    description: 'Only these keys (repeat the parameter for several)'
  }))
})
