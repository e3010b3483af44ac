import { type Static, Type } from '@sinclair/typebox'
import { SERIALIZE } from './preference.js'

// Export, import and erasure of all of a user's preferences.

/** The format name an export document carries, versioned so that a later format can be told apart. */
export const EXPORT_FORMAT = 'preferences-export/1'

const PreferencesMapSchema = (description: string) => Type.Object({}, { additionalProperties: Type.Unknown(), description })

export const ExportDocumentSchema = Type.Object({
  format: Type.Literal(EXPORT_FORMAT),
  user_id: Type.Integer({ description: 'Whose preferences these are' }),
  exported_at: Type.String({ format: 'date-time', description: 'When the export was read (UTC, ISO 8601 with milliseconds)' }),
  rev: Type.Integer({ description: 'The user\'s revision the export reflects' }),
  preferences: PreferencesMapSchema('Every preference of the user, key to value, in the order they were created')
}, {
  title: 'Preferences export',
  description: 'All of a user\'s own preferences (no defaults); POST it to .../preference/import/ to restore them, for this user or another',
  examples: [{ format: EXPORT_FORMAT, user_id: 1, exported_at: '2026-12-02T12:00:00.000Z', rev: 7, preferences: { theme: 'dark', 'tour.seen': true } }]
})
// Written by hand (preference-json.ts): values go out as their stored JSON text.
Object.assign(ExportDocumentSchema, { [SERIALIZE]: 'export' })
// Written out: Static does not carry additionalProperties. Values are stored JSON text (JsonText)
// in the core, plain values from the programmatic store.
export interface ExportDocument {
  format: typeof EXPORT_FORMAT
  user_id: number
  exported_at: string
  rev: number
  preferences: Record<string, unknown>
}

export const ImportBodySchema = Type.Object({
  format: Type.Optional(Type.Literal(EXPORT_FORMAT, { description: 'When present, must be this format' })),
  preferences: PreferencesMapSchema('Key to value; the keys follow the usual key rules')
}, {
  description: 'An export document (its `user_id`, `exported_at` and `rev` are ignored: a document exported for another ' +
    'user is accepted), or just `{preferences}`. Other fields are ignored.',
  examples: [{ preferences: { theme: 'dark', 'tour.seen': true } }]
})
export interface ImportBody {
  format?: typeof EXPORT_FORMAT
  preferences: Record<string, unknown>
}

export const IMPORT_MODES = ['merge', 'replace'] as const
export type ImportMode = typeof IMPORT_MODES[number]

export const ImportQuerySchema = Type.Object({
  mode: Type.Optional(Type.Union(IMPORT_MODES.map((m) => Type.Literal(m)), {
    default: 'merge',
    description: '`merge` sets the given keys and keeps the others; `replace` also deletes the keys the document does not have'
  })),
  dry_run: Type.Optional(Type.Boolean({ default: false, description: 'Check everything and report what would change, write nothing' }))
})

const sortedKeys = (description: string) => Type.Array(Type.String(), { description: `${description} (sorted)` })

export const ImportReportSchema = Type.Object({
  rev: Type.Integer({ description: 'The user\'s revision after the import (the current one for a dry run, or when nothing changed)' }),
  dry_run: Type.Boolean(),
  created: sortedKeys('Keys that did not exist'),
  updated: sortedKeys('Keys whose value changed'),
  deleted: sortedKeys('Keys removed (replace mode only)'),
  unchanged: sortedKeys('Keys that already held the same value: not written, not in the revision')
}, {
  title: 'Import report',
  examples: [{ rev: 8, dry_run: false, created: ['tour.seen'], updated: ['theme'], deleted: [], unchanged: [] }]
})
export type ImportReport = Static<typeof ImportReportSchema>
