import type { EffectiveEntry } from '../schemas/effective-view.js'
import type { MergePatchOf, PreferenceValue, RegisteredKey } from '../schemas/key-registry.js'
import type { Preference } from '../schemas/preference.js'
import type { HistoryEntry } from '../schemas/revision.js'
import type { ScopeDefault } from '../schemas/scope-default.js'

// The client's types under a key registry R: `typeof keys` of the host's registry, TypeBox
// (defineKeys) or a JSON Schema literal written `as const`. Types only: nothing of R reaches
// the bundle. Without R (Untyped) every value is `unknown`, as the API's schemas say.

/**
 * What a registry given to the client looks like: key or `prefix.*` pattern to a definition
 * with a `schema` (TypeBox, or JSON Schema). Other fields (default, writable...) may be there.
 */
export type ClientKeyRegistry = Record<string, { readonly schema: unknown }>

/** No registry: every key is free-form. */
export type Untyped = Record<never, never>

/** A key: the registry's keys and patterns come first in an editor's completion, any string is allowed. */
export type KeyOf<R> = RegisteredKey<R> | (string & {})

/** The value type of key K (its exact definition's, else its longest pattern's, else `unknown`). */
export type ValueOf<R, K extends string> = PreferenceValue<R, K>

/** T with its `value` typed V; T itself when V says nothing (`unknown`). */
export type WithValue<T extends { value?: unknown }, V> = unknown extends V ? T : Omit<T, 'value'> & { value: V }

/** A preference of key K. */
export type PreferenceOf<R, K extends string> = WithValue<Preference, ValueOf<R, K>>

/** A scope's default of key K. */
export type ScopeDefaultOf<R, K extends string> = WithValue<ScopeDefault, ValueOf<R, K>>

/** One revision of key K in its history (`value` on a `set`). */
export type HistoryEntryOf<R, K extends string> = unknown extends ValueOf<R, K>
  ? HistoryEntry
  : Omit<HistoryEntry, 'value'> & { value?: ValueOf<R, K> }

/**
 * An entry of the effective view. Its value is null only where the user's stored value no
 * longer fits the schema and no other layer applies, which a key with a registry default never is.
 */
export type EffectiveEntryOf<R, K extends string> = WithValue<EffectiveEntry,
  K extends keyof R ? (R[K] extends { default: unknown } ? ValueOf<R, K> : ValueOf<R, K> | null) : ValueOf<R, K> | null>

type ExactKeys<R> = { [K in keyof R & string]: K extends `${string}*` ? never : K }[keyof R & string]

/**
 * The effective view's preferences: each exact registered key typed; any other key (a
 * pattern's, a free-form one) an entry whose value is `unknown`.
 */
export type EffectivePreferences<R> = { [K in ExactKeys<R>]?: EffectiveEntryOf<R, K> } & { [key: string]: EffectiveEntry | undefined }

/** The effective view, as the API answers it, typed from R. */
export interface EffectiveViewOf<R> {
  /** The user's revision. */
  rev: number
  preferences: EffectivePreferences<R>
}

/**
 * Checks a merge patch P key by key: each a patch of its key's value, or null to delete it.
 * As the bound of the patch's own type (`<P extends PatchChecks<R, P>>`), each key's type applies.
 */
export type PatchChecks<R, P> = { [K in keyof P & string]: MergePatchOf<ValueOf<R, K>> | null }

/** Checks values P key by key (an import's `preferences`). */
export type ValueChecks<R, P> = { [K in keyof P & string]: ValueOf<R, K> }
