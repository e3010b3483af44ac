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

/** A user's revision: 0 before any change, +1 per committed change. */
export interface UserRevisionTable {
  user_id: BigId
  rev: ColumnType<number | string, number, number>
  /** The oldest revision still asked for (the erasure's, after an erase); 0 otherwise. */
  floor: ColumnType<number | string, number, number>
  /** How many preferences the user holds (kept by every write, in its transaction). */
  preference_count: ColumnType<number | string, number, number>
}

/** One revision of a user's preferences. */
export interface PreferenceChangeTable {
  user_id: BigId
  rev: ColumnType<number | string, number, never>
  at: ColumnType<string | Date, string, never>
  actor_id: ColumnType<number | string | null, number | null, never>
  actor_admin: ColumnType<number | null, number | null, never>
  /** JSON array of {op, key, id, value?}. */
  changes: string
  erased: ColumnType<number, number, never>
}

export interface Database {
  user_preference: UserPreferenceTable
  preference_default: PreferenceDefaultTable
  user_revision: UserRevisionTable
  preference_change: PreferenceChangeTable
}

export type UserPreferenceRow = Selectable<UserPreferenceTable>
export type PreferenceDefaultRow = Selectable<PreferenceDefaultTable>
export type PreferenceChangeRow = Selectable<PreferenceChangeTable>

export type Dialect = 'sqlite' | 'postgres'

/**
 * Whether a write may touch a key, decided before the key is known: by exact key, else by the
 * longest matching pattern prefix, else `unknown`. Exact and prefix entries hold their verdicts.
 */
export interface KeyPolicy {
  exact: Record<string, boolean>
  prefixes: Array<[string, boolean]>
  unknown: boolean
}
