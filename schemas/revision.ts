import { type Static, Type } from '@sinclair/typebox'
import { SERIALIZE } from './preference.js'

// Revisions of a user's preferences: what the change feed, the event stream and the history
// answer. Fields carry `example`, not `examples`: some sit where @fastify/swagger leaves them as
// they are, and OpenAPI 3.0 has no `examples` in a schema.

export const ActorSchema = Type.Union([
  Type.Object({ id: Type.Integer(), admin: Type.Boolean() }),
  Type.Null()
], { description: 'Who made the change: a user (and whether an admin), or null for the host application' })

export const ChangeSchema = Type.Object({
  op: Type.Union([Type.Literal('set'), Type.Literal('delete')]),
  key: Type.String(),
  id: Type.Integer({ description: 'The preference id' }),
  value: Type.Optional(Type.Unknown({ description: 'The value as stored after the change (for `set`)' }))
})

export const RevisionSchema = Type.Object({
  rev: Type.Integer({ description: 'The user\'s revision this change made' }),
  at: Type.String({ format: 'date-time', description: 'When it was committed (UTC, ISO 8601 with milliseconds)' }),
  actor: ActorSchema,
  changes: Type.Array(ChangeSchema),
  erased: Type.Optional(Type.Literal(true, { description: 'Present on the revision that erased every preference' }))
}, { title: 'Revision' })
export type Revision = Static<typeof RevisionSchema>

export const ChangesQuerySchema = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'The last revision the client has' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Most revisions in one page' }))
})

/** Rows of the change log, as the route hands them to the serializer. */
export interface RevisionRow {
  rev: number
  at: string
  actorId: number | null
  actorAdmin: boolean | null
  /** The JSON array as stored. */
  changes: string
  erased: boolean
}

export const ChangesPageSchema = Type.Object({
  rev: Type.Integer({ description: 'The user\'s current revision' }),
  results: Type.Array(RevisionSchema, { description: 'The revisions after `since`, oldest first' }),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Absolute URL of the next page, or null' })
}, { title: 'Changes' })
Object.assign(ChangesPageSchema, { [SERIALIZE]: 'changes-page' })
export interface ChangesPage {
  rev: number
  results: RevisionRow[]
  next: string | null
}

export const HistoryEntrySchema = Type.Object({
  rev: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  actor: ActorSchema,
  op: Type.Union([Type.Literal('set'), Type.Literal('delete')]),
  value: Type.Optional(Type.Unknown({ description: 'The value as stored after the change (for `set`)' }))
})
export type HistoryEntry = Static<typeof HistoryEntrySchema>

export const HistorySchema = Type.Object({
  results: Type.Array(HistoryEntrySchema, { description: 'The kept revisions that touched the key, newest first' })
}, { title: 'Key history' })
export type History = Static<typeof HistorySchema>
