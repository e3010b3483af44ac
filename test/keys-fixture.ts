import { Type } from '@sinclair/typebox'
import { defineKeys } from '../index.js'

/** The registry the typed-preferences tests share. */
export const KEYS = defineKeys({
  theme: { schema: Type.Union([Type.Literal('light'), Type.Literal('dark')]), default: 'light', description: 'Colour theme' },
  layout: {
    schema: Type.Object({ columns: Type.Integer({ minimum: 1, maximum: 4 }), dense: Type.Optional(Type.Boolean()) }),
    default: { columns: 2 }
  },
  'tour.*': { schema: Type.Boolean(), description: 'Tours seen' },
  'tour.special.*': { schema: Type.Integer() },
  'tour.exact': { schema: Type.String() },
  'billing.plan': { schema: Type.String(), default: 'free', writable: 'admin' },
  volume: { schema: Type.Number({ minimum: 0, maximum: 10 }) }
})
