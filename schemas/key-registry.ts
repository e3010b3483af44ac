import type { Static, TSchema } from '@sinclair/typebox'
import type { JsonSchemaValue } from './json-schema-value.js'

// The key registry's types: what a host declares for its keys, and the value type each key
// then has. Types only (and an identity helper), so that the browser client can use them.

/** Who may write a key: anyone who may write the user's preferences, or admins only. */
export type KeyWritable = 'user' | 'admin'

/** What a key (or a `prefix.*` pattern of keys) holds. */
export interface KeyDefinition<S extends TSchema = TSchema> {
  /** A TypeBox schema (or any JSON Schema the validator accepts) every stored value must match. */
  schema: S
  /** What a user sees before setting the key (exact keys only; must match `schema`). */
  default?: Static<S>
  description?: string
  /** Default `user`. With `admin`, only admins may write or delete the key (403 PREFERENCE_KEY_READ_ONLY). */
  writable?: KeyWritable
}

/** Keys or patterns (`tour.*`, or `*` for every key) to their definitions. */
export type KeyRegistry = Record<string, KeyDefinition>

/**
 * The registry as written, with each `default` checked against its own schema at compile
 * time: `defineKeys({ theme: { schema: Type.Union([...]), default: 'light' } })`.
 */
export function defineKeys<const R extends Record<string, { schema: TSchema }>> (
  keys: R & { [P in keyof R]: KeyDefinition<R[P]['schema']> }
): R {
  return keys
}

type PatternPrefix<P> = P extends `${infer Prefix}*` ? Prefix : never

/** The patterns of `R` that match key `K` (a pattern needs at least one more character). */
type MatchingPatterns<R, K extends string> = {
  [P in keyof R & string]: K extends `${PatternPrefix<P>}${infer Rest}` ? (Rest extends '' ? never : P) : never
}[keyof R & string]

/** The patterns of M whose prefix extends that of P: the more specific ones. */
type LongerThan<M, P> = M extends P ? never : PatternPrefix<M> extends `${PatternPrefix<P>}${string}` ? M : never

/** Of the matching patterns M, the longest (each prefixes the key, so one is the most specific). */
type LongestPattern<M extends string> = { [P in M]: [LongerThan<M, P>] extends [never] ? P : never }[M]

/** Every key the registry names: exact keys, and template types for its patterns. */
export type RegisteredKey<R> = {
  [P in keyof R & string]: P extends `${infer Prefix}*` ? `${Prefix}${string}` : P
}[keyof R & string]

/**
 * The value type of a key's schema: a TypeBox schema's Static, else what a JSON Schema literal
 * (written `as const`) describes.
 */
export type SchemaValue<S> = S extends TSchema ? Static<S> : JsonSchemaValue<S>

type DefinitionValue<D> = D extends { schema: infer S } ? SchemaValue<S> : unknown

/**
 * The value type of key `K` under registry `R`: its exact definition's, else that of the
 * longest pattern it matches (as the registry decides at run time), else `unknown` (a
 * free-form key holds any JSON).
 */
export type PreferenceValue<R, K extends string> =
  string extends K
    ? unknown
    : K extends keyof R
      ? DefinitionValue<R[K]>
      : [MatchingPatterns<R, K>] extends [never]
          ? unknown
          : DefinitionValue<R[LongestPattern<MatchingPatterns<R, K>>]>

/** An RFC 7396 patch of a value of type T: objects merge member by member, null removes. */
export type MergePatchOf<T> = T extends readonly unknown[]
  ? T
  : T extends object ? { [P in keyof T]?: MergePatchOf<T[P]> | null } : T

/** A merge patch of a user's preferences: for each key a patch of its value, or null to delete it. */
export type PreferencePatch<R> = { [K in RegisteredKey<R>]?: MergePatchOf<PreferenceValue<R, K>> | null } & Record<string, unknown>

/** Values to import for a user: each registered key with its value type. */
export type PreferenceValues<R> = { [K in RegisteredKey<R>]?: PreferenceValue<R, K> } & Record<string, unknown>
