import type { LayerRow } from '../db/scope-default-repository.js'
import type { EffectiveView } from '../schemas/effective-view.js'

interface Remembered {
  scopes: readonly string[]
  rows: readonly LayerRow[]
  view: EffectiveView
}

const sameScopes = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((scope, i) => scope === b[i])

function sameRows (a: readonly LayerRow[], b: readonly LayerRow[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if (x.value !== y.value || x.key !== y.key || x.scope !== y.scope || Number(x.locked) !== Number(y.locked)) return false
  }
  return true
}

/**
 * The last effective view built for each of the most recently read users, with the rows it
 * was built from. The rows are always read from the database; when they are the same as last
 * time (the user's revision rides among them), the view is too, and its JSON and ETag need not
 * be made again. Page loads read an unchanged view far more often than a changed one.
 */
export class EffectiveViewMemo {
  readonly #entries = new Map<number, Remembered>()

  constructor (readonly capacity: number) {}

  /** The view built from exactly these rows, if it is still remembered. */
  find (userId: number, scopes: readonly string[], rows: readonly LayerRow[]): EffectiveView | undefined {
    const entry = this.#entries.get(userId)
    if (entry === undefined || !sameScopes(entry.scopes, scopes) || !sameRows(entry.rows, rows)) return undefined
    // Most recently used last: eviction takes the first.
    this.#entries.delete(userId)
    this.#entries.set(userId, entry)
    return entry.view
  }

  remember (userId: number, scopes: readonly string[], rows: readonly LayerRow[], view: EffectiveView): void {
    this.#entries.delete(userId)
    this.#entries.set(userId, { scopes, rows, view })
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value as number)
  }

  get size (): number {
    return this.#entries.size
  }
}
