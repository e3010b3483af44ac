import { type LayerRow, REVISION_ROW } from '../db/scope-default-repository.js'
import { JsonText } from '../lib/json-text.js'
import type { EffectiveEntry, EffectiveView } from '../schemas/effective-view.js'
import type { CompiledRegistry } from './key-registry.js'

interface KeyLayers {
  /** The user's stored JSON text. */
  user?: string
  /** Scope name to its default for this key. */
  scopes: Map<string, { value: string, locked: boolean }>
}

/**
 * What applies to a user, key by key. Layers, lowest precedence first: the registry's default,
 * then `scopes` in order (site, then the user's groups), then the user's own value. A locked
 * scope wins over everything, and the lowest-precedence lock over other locks. A user value
 * the key's current schema rejects is skipped (and flagged).
 */
export function computeEffectiveView (
  registry: CompiledRegistry, scopes: readonly string[], rows: readonly LayerRow[], keys?: readonly string[]
): EffectiveView {
  const byKey = new Map<string, KeyLayers>()
  const layersOf = (key: string): KeyLayers => {
    let layers = byKey.get(key)
    if (layers === undefined) {
      layers = { scopes: new Map() }
      byKey.set(key, layers)
    }
    return layers
  }
  let rev = 0
  for (const row of rows) {
    if (row.scope === REVISION_ROW) rev = Number(row.value)
    else if (row.scope === null) layersOf(row.key).user = row.value
    else layersOf(row.key).scopes.set(row.scope, { value: row.value, locked: Number(row.locked) === 1 })
  }
  let candidates: Iterable<string>
  if (keys !== undefined) {
    candidates = keys
  } else {
    for (const definition of registry.definitions) {
      if (definition.hasDefault && !definition.name.endsWith('*')) layersOf(definition.name)
    }
    candidates = byKey.keys()
  }

  const preferences: Record<string, EffectiveEntry> = Object.create(null)
  for (const key of [...new Set(candidates)].sort()) {
    const entry = entryOf(registry, scopes, key, byKey.get(key) ?? { scopes: new Map() })
    if (entry !== undefined) preferences[key] = entry
  }
  return { rev, preferences }
}

function entryOf (registry: CompiledRegistry, scopes: readonly string[], key: string, layers: KeyLayers): EffectiveEntry | undefined {
  for (const scope of scopes) {
    const layer = layers.scopes.get(scope)
    if (layer?.locked === true) return { value: new JsonText(layer.value), source: `scope:${scope}`, locked: true }
  }
  let userValueInvalid = false
  if (layers.user !== undefined) {
    if (registry.definitionOf(key) === undefined || registry.accepts(key, JSON.parse(layers.user))) {
      return { value: new JsonText(layers.user), source: 'user', locked: false }
    }
    userValueInvalid = true
  }
  const flag = userValueInvalid ? { user_value_invalid: true as const } : {}
  for (let i = scopes.length - 1; i >= 0; i--) {
    const layer = layers.scopes.get(scopes[i])
    if (layer !== undefined) return { value: new JsonText(layer.value), source: `scope:${scopes[i]}`, locked: false, ...flag }
  }
  const definition = registry.definitionOf(key)
  if (definition?.hasDefault === true) return { value: definition.default, source: 'registry', locked: false, ...flag }
  // The user set the key, its value no longer fits, and nothing else applies: null.
  if (userValueInvalid) return { value: null, source: 'registry', locked: false, ...flag }
  return undefined
}
