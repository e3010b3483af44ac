// The value type a JSON Schema written as a literal (`as const`) describes, for registries that
// are plain JSON Schema (a KEYS_FILE's, a frontend's copy of it) rather than TypeBox. Types
// only. What it cannot say precisely ($ref, if/then, not, patterns) is `unknown`: any JSON.

/** The JSON of the simple `type` names. */
interface SimpleTypes {
  string: string
  number: number
  integer: number
  boolean: boolean
  null: null
}

/** Nesting deeper than this is `unknown`: it keeps a recursive literal from costing the compiler. */
type Depth = [unknown, unknown, unknown, unknown, unknown, unknown, unknown, unknown]

/** The union of the values of each schema in a list (anyOf, oneOf). */
type UnionOf<L, D extends unknown[]> = L extends readonly unknown[] ? JsonSchemaValue<L[number], D> : unknown

/** The intersection of the values of each schema in a list (allOf). */
type IntersectionOf<L, D extends unknown[]> = L extends readonly [infer First, ...infer Rest]
  ? JsonSchemaValue<First, D> & IntersectionOf<Rest, D>
  : unknown

type RequiredOf<S> = S extends { required: readonly (infer K)[] } ? K : never

/** Members beyond `properties`: none with `additionalProperties: false`, else any JSON (or the schema's). */
type ExtraMembers<S, D extends unknown[]> = S extends { additionalProperties: false }
  ? unknown
  : S extends { properties: object }
    ? { [name: string]: unknown }
    : S extends { additionalProperties: infer A extends object }
      ? { [name: string]: JsonSchemaValue<A, D> }
      : { [name: string]: unknown }

type Flat<T> = { [K in keyof T]: T[K] } & {}

type ObjectValue<S, D extends unknown[]> = S extends { properties: infer P extends object }
  ? Flat<
  { -readonly [K in keyof P as K extends RequiredOf<S> ? K : never]: JsonSchemaValue<P[K], D> } &
  { -readonly [K in keyof P as K extends RequiredOf<S> ? never : K]?: JsonSchemaValue<P[K], D> } &
  ExtraMembers<S, D>
  >
  : ExtraMembers<S, D>

type ArrayValue<S, D extends unknown[]> = S extends { items: infer I }
  ? I extends readonly unknown[] ? unknown[] : Array<JsonSchemaValue<I, D>>
  : unknown[]

/** The value of one `type` name (distributes over a union of names). */
type TypeValue<S, T, D extends unknown[]> = T extends keyof SimpleTypes
  ? SimpleTypes[T]
  : T extends 'array' ? ArrayValue<S, D> : T extends 'object' ? ObjectValue<S, D> : unknown

/**
 * The value type of JSON Schema `S`: `const` and `enum` give literals, `type` (a name or a list
 * of names) the JSON type, with `properties`/`required`/`additionalProperties` and `items`;
 * `anyOf`/`oneOf` a union, `allOf` an intersection. A schema from a JSON file that TypeScript
 * widened (`"enum": string[]`) gives the widened type, `string`, or `unknown`.
 */
export type JsonSchemaValue<S, D extends unknown[] = []> =
  D['length'] extends Depth['length']
    ? unknown
    : S extends { const: infer C }
      ? C
      : S extends { enum: readonly (infer E)[] }
        ? E
        : S extends { anyOf: infer L }
          ? UnionOf<L, [...D, unknown]>
          : S extends { oneOf: infer L }
            ? UnionOf<L, [...D, unknown]>
            : S extends { allOf: infer L }
              ? IntersectionOf<L, [...D, unknown]>
              : S extends { type: infer T }
                ? TypeValue<S, T extends readonly (infer N)[] ? N : T, [...D, unknown]>
                : unknown
