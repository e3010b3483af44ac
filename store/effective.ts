import { type LayerRow, REVISION_ROW } from '../db/scope-default-repository.js'
import { JsonText } from '../lib/json-text.js'
import type { EffectiveEntry, EffectiveView } from '../schemas/effective-view.js'
import type { CompiledRegistry } from './key-registry.js'

/** What the layers hold for one key: the user's value, the first lock, the last scope's value. */
interface KeyLayers {
  /** The user's stored JSON text. */
  user: string | undefined
  /** Index in `scopes` of the lowest-precedence scope that locks the key (-1: none). */
  lockedBy: number
  lockedValue: string
  /** Index in `scopes` of the highest-precedence scope with a default for the key (-1: none). */
  top: number
  topValue: string
}

const noLayers = (): KeyLayers => ({ user: undefined, lockedBy: -1, lockedValue: '', top: -1, topValue: '' })

/**
 * What applies to a user, key by key. Layers, lowest precedence first: the registry's default,
 * then `scopes` in order (site, then the user's groups), then the user's own value. A locked
 * scope wins over everything, and the lowest-precedence lock over other locks. A user value
 * the key's current schema rejects is skipped (and flagged).
 */
export function computeEffectiveView (
  registry: CompiledRegistry, scopes: readonly string[], rows: readonly LayerRow[], keys?: readonly string[]
): EffectiveView {
  // Read on every page load: one pass over the rows into one flat record per key.
  const byKey = new Map<string, KeyLayers>()
  let rev = 0
  for (const row of rows) {
    if (row.scope === REVISION_ROW) {
      rev = Number(row.value)
      continue
    }
    let layers = byKey.get(row.key)
    if (layers === undefined) {
      layers = noLayers()
      byKey.set(row.key, layers)
    }
    if (row.scope === null) {
      layers.user = row.value
      continue
    }
    const rank = scopes.indexOf(row.scope)
    if (Number(row.locked) === 1 && (layers.lockedBy < 0 || rank < layers.lockedBy)) {
      layers.lockedBy = rank
      layers.lockedValue = row.value
    }
    if (rank > layers.top) {
      layers.top = rank
      layers.topValue = row.value
    }
  }
  let candidates: string[]
  if (keys !== undefined) {
    candidates = [...new Set(keys)]
  } else {
    for (const definition of registry.definitions) {
      if (definition.hasDefault && !definition.name.endsWith('*') && !byKey.has(definition.name)) byKey.set(definition.name, noLayers())
    }
    candidates = [...byKey.keys()]
  }

  const sources = scopes.map((scope) => `scope:${scope}`)
  const preferences: Record<string, EffectiveEntry> = Object.create(null)
  for (const key of candidates.sort()) {
    const entry = entryOf(registry, sources, key, byKey.get(key))
    if (entry !== undefined) preferences[key] = entry
  }
  return { rev, preferences }
}

function entryOf (registry: CompiledRegistry, sources: readonly string[], key: string, layers: KeyLayers | undefined): EffectiveEntry | undefined {
  if (layers !== undefined && layers.lockedBy >= 0) {
    return { value: new JsonText(layers.lockedValue), source: sources[layers.lockedBy], locked: true }
  }
  const definition = registry.definitionOf(key)
  let userValueInvalid = false
  if (layers?.user !== undefined) {
    if (definition === undefined || definition.validate(JSON.parse(layers.user))) {
      return { value: new JsonText(layers.user), source: 'user', locked: false }
    }
    userValueInvalid = true
  }
  const flag = userValueInvalid ? { user_value_invalid: true as const } : {}
  if (layers !== undefined && layers.top >= 0) {
    return { value: new JsonText(layers.topValue), source: sources[layers.top], locked: false, ...flag }
  }
  if (definition?.hasDefault === true) return { value: definition.default, source: 'registry', locked: false, ...flag }
  // The user set the key, its value no longer fits, and nothing else applies: null.
  if (userValueInvalid) return { value: null, source: 'registry', locked: false, ...flag }
  return undefined
}
