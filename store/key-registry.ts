import { Ajv, type ValidateFunction } from 'ajv'
import ajvFormats from 'ajv-formats'
import type { KeyPolicy } from '../db/types.js'
import type { KeyDefinition, KeyRegistry, KeyWritable } from '../schemas/key-registry.js'
import { InvalidOptionError, KeyUnknownError, ValueInvalidError } from '../schemas/errors.js'

export type UnknownKeys = 'allow' | 'reject'

/** One entry of the registry, its schema compiled. */
export interface CompiledDefinition {
  /** The key or pattern as registered (`theme`, `tour.*`). */
  name: string
  schema: object
  hasDefault: boolean
  default: unknown
  description?: string
  writable: KeyWritable
  validate: ValidateFunction
}

/** The registry, compiled once at start-up. */
export interface CompiledRegistry {
  readonly unknownKeys: UnknownKeys
  /** Every definition, exact keys first, then patterns, each in registration order. */
  readonly definitions: readonly CompiledDefinition[]
  /** The definition that applies to `key`: the exact one, else the longest matching pattern. */
  definitionOf: (key: string) => CompiledDefinition | undefined
  /** Why `value` may not be stored under `key` (400), or nothing. */
  check: (key: string, value: unknown) => void
  /** True when only admins may write `key`. */
  adminOnly: (key: string) => boolean
  /**
   * `ok` applied to every definition (and `unknown` for keys without one), as a policy a
   * database statement can apply to a key it has not read yet (see KeyPolicy); undefined when
   * the registry is too large for that.
   */
  policy: (ok: (definition: CompiledDefinition) => boolean, unknown: boolean) => KeyPolicy | undefined
}

// Past this many definitions a write reads the key instead of checking the value against each.
const MAX_POLICY_DEFINITIONS = 64

// ajv-formats is CommonJS: its default export is the module object under NodeNext's typing.
const addFormats = ajvFormats as unknown as typeof ajvFormats.default

// Values are checked as sent: no coercion, no defaults filled in, nothing removed.
function newAjv (): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false })
  addFormats(ajv)
  return ajv
}

const quoted = (key: string) => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key)

/** `tour.*` -> `tour.`; null for an exact key; throws for a malformed pattern. */
function patternPrefix (name: string): string | null {
  const stars = name.split('*').length - 1
  if (stars === 0) return null
  if (stars > 1 || !name.endsWith('*')) {
    throw new InvalidOptionError(`keys[${quoted(name)}]: a pattern has one "*", as its last character (e.g. "tour.*")`)
  }
  return name.slice(0, -1)
}

function compileDefinition (ajv: Ajv, name: string, definition: KeyDefinition): CompiledDefinition {
  if (definition === null || typeof definition !== 'object' || definition.schema === null || typeof definition.schema !== 'object') {
    throw new InvalidOptionError(`keys[${quoted(name)}] must be { schema, default?, description?, writable? }`)
  }
  const writable = definition.writable ?? 'user'
  if (writable !== 'user' && writable !== 'admin') {
    throw new InvalidOptionError(`keys[${quoted(name)}].writable must be "user" or "admin"`)
  }
  if (definition.description !== undefined && typeof definition.description !== 'string') {
    throw new InvalidOptionError(`keys[${quoted(name)}].description must be a string`)
  }
  let validate: ValidateFunction
  try {
    validate = ajv.compile(definition.schema)
  } catch (error) {
    throw new InvalidOptionError(`keys[${quoted(name)}].schema is not a valid JSON Schema: ${(error as Error).message}`)
  }
  const hasDefault = Object.hasOwn(definition, 'default') && definition.default !== undefined
  if (hasDefault && !validate(definition.default)) {
    throw new InvalidOptionError(`keys[${quoted(name)}].default does not match its schema: ${problemOf(validate)}`)
  }
  return {
    name,
    schema: definition.schema,
    hasDefault,
    default: definition.default,
    ...(definition.description !== undefined && { description: definition.description }),
    writable,
    validate
  }
}

/**
 * The failing location (a JSON Pointer) and what is wrong there. Ajv stops at the first
 * failure and reports it last, after the branches of an anyOf it tried; a union of constants
 * (a TypeBox union of literals) is told as the list of its values.
 */
function problemOf (validate: ValidateFunction): string {
  const errors = validate.errors ?? []
  const error = errors.at(-1)
  if (error === undefined) return 'it is not valid'
  const branches = errors.slice(0, -1).filter((e) => e.instancePath === error.instancePath)
  if (error.keyword === 'anyOf' && branches.length > 0 && branches.every((e) => e.keyword === 'const')) {
    const allowed = branches.map((e) => JSON.stringify((e.params as { allowedValue: unknown }).allowedValue))
    return `at "${error.instancePath}" it must be one of ${allowed.join(', ')}`
  }
  return `at "${error.instancePath}" it ${error.message ?? 'is not valid'}`
}

export function compileRegistry (keys: KeyRegistry | undefined, unknownKeys: UnknownKeys = 'allow'): CompiledRegistry {
  if (keys !== undefined && (keys === null || typeof keys !== 'object' || Array.isArray(keys))) {
    throw new InvalidOptionError('keys must be an object of key (or "prefix.*" pattern) to { schema, default?, description?, writable? }')
  }
  if (unknownKeys !== 'allow' && unknownKeys !== 'reject') {
    throw new InvalidOptionError(`unknownKeys must be "allow" or "reject", got ${JSON.stringify(unknownKeys)}`)
  }
  const ajv = newAjv()
  const exact = new Map<string, CompiledDefinition>()
  const patterns: Array<{ prefix: string, definition: CompiledDefinition }> = []
  for (const [name, definition] of Object.entries(keys ?? {})) {
    const prefix = patternPrefix(name)
    const compiled = compileDefinition(ajv, name, definition)
    if (prefix === null) exact.set(name, compiled)
    else patterns.push({ prefix, definition: compiled })
  }
  // Longest prefix first: a longer pattern beats a shorter one.
  patterns.sort((a, b) => b.prefix.length - a.prefix.length)

  const definitionOf = (key: string): CompiledDefinition | undefined => {
    const found = exact.get(key)
    if (found !== undefined) return found
    for (const { prefix, definition } of patterns) {
      if (key.length > prefix.length && key.startsWith(prefix)) return definition
    }
    return undefined
  }

  return {
    unknownKeys,
    definitions: [...exact.values(), ...patterns.map((p) => p.definition)],
    definitionOf,
    check: (key, value) => {
      const definition = definitionOf(key)
      if (definition === undefined) {
        if (unknownKeys === 'reject') throw new KeyUnknownError(quoted(key))
        return
      }
      if (!definition.validate(value)) throw new ValueInvalidError(quoted(key), problemOf(definition.validate))
    },
    adminOnly: (key) => definitionOf(key)?.writable === 'admin',
    policy: (ok, unknown) => {
      if (exact.size + patterns.length > MAX_POLICY_DEFINITIONS) return undefined
      // No prototype: a key named __proto__ is a key like any other.
      const verdicts: Record<string, boolean> = Object.create(null)
      for (const [name, definition] of exact) verdicts[name] = ok(definition)
      return {
        exact: verdicts,
        prefixes: patterns.map(({ prefix, definition }) => [prefix, ok(definition)]),
        unknown
      }
    }
  }
}

/**
 * The registry's answer, for whichever stored key a write finds, to a write by an admin or
 * not of `value` (a change of value: an unknown key takes it only under `unknownKeys: 'allow'`)
 * or of no value (a delete: any key not read-only). See KeyPolicy.
 */
export function writePolicy (registry: CompiledRegistry, admin: boolean, value: { value: unknown } | undefined): KeyPolicy | undefined {
  return registry.policy((definition) =>
    (admin || definition.writable !== 'admin') && (value === undefined || definition.validate(value.value) === true),
  value === undefined || registry.unknownKeys === 'allow')
}
