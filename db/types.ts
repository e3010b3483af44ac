import type { ColumnType, Generated, Selectable } from 'kysely'

// PostgreSQL returns bigint as a string and timestamptz as a Date; SQLite gives numbers and
// the ISO text we stored. The row mapper in preferences.ts normalises both.
type BigId = ColumnType<number | string, number, never>
type Timestamp = ColumnType<string | Date, string, string>

export interface UserPreferenceTable {
  id: Generated<number | string>
  user_id: BigId
  key: string
  /** The value's compact JSON text, stored as text so key order survives. */
  value: string
  created_at: ColumnType<string | Date, string, never>
  last_updated_at: Timestamp
}

/** A scope's default for one key. */
export interface PreferenceDefaultTable {
  /** `site`, or a group name. */
  scope: string
  key: string
  /** The value's compact JSON text. */
  value: string
  /** 1 when every user under the scope gets this value, whatever they stored; else 0. */
  locked: number
  last_updated_at: Timestamp
}

export interface Database {
  user_preference: UserPreferenceTable
  preference_default: PreferenceDefaultTable
}

export type UserPreferenceRow = Selectable<UserPreferenceTable>
export type PreferenceDefaultRow = Selectable<PreferenceDefaultTable>

export type Dialect = 'sqlite' | 'postgres'
