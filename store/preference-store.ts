import type { Kysely } from 'kysely'
import type { PatchOutcome } from '../db/merge-patch-repository.js'
import type { PreferencePage } from '../db/preference-repository.js'
import type { Database } from '../db/types.js'
import { plainValue } from '../lib/json-text.js'
import type { EffectiveView } from '../schemas/effective-view.js'
import { ValidationError } from '../schemas/errors.js'
import type { KeyRegistry, PreferencePatch, PreferenceValue, PreferenceValues } from '../schemas/key-registry.js'
import { type ExportDocument, IMPORT_MODES, type ImportMode, type ImportReport } from '../schemas/portability.js'
import { keyProblem, type Preference } from '../schemas/preference.js'
import { isScopeName, type ScopeDefault } from '../schemas/scope-default.js'
import { type Actor, PreferenceCore, type WriteContext } from './preference-core.js'
import { resolveStoreOptions, type StoreOptions } from './store-options.js'
import { quotedKey } from './values.js'

/** The core behind a store, for the plugin when it is given one. */
export const STORE_CORE = Symbol.for('fastify-user-preferences.store-core')

export interface StoreCallOptions {
  /**
   * Who acts. Default null: the application itself, held to the rules of a user who is not
   * an admin (read-only keys and locks apply). Pass an admin actor to write past them.
   */
  actor?: Actor | null
  /** The user's groups for this call, instead of asking `groupsOf`. */
  groups?: readonly string[]
}

export interface ImportOptions extends StoreCallOptions {
  /** `merge` (default) keeps the user's other keys; `replace` deletes them. */
  mode?: ImportMode
  /** Check and report, write nothing. */
  dryRun?: boolean
}

/** Preferences from host code, without HTTP: the same rules, limits and locks as the API. */
export interface PreferenceStore<R extends KeyRegistry = KeyRegistry> {
  /** The Kysely instance (shared with the plugin when it is given this store). */
  readonly db: Kysely<Database>
  /** The user's own stored value of `key` (no defaults), or undefined. */
  get: <K extends string>(userId: number, key: K) => Promise<PreferenceValue<R, K> | undefined>
  /** The whole stored preference of `key`, or undefined. */
  getPreference: (userId: number, key: string) => Promise<Preference | undefined>
  /** Sets `key` (creating it within the per-user limit); `created` when it did not exist. */
  set: <K extends string>(userId: number, key: K, value: PreferenceValue<R, K>, options?: StoreCallOptions) =>
  Promise<{ preference: Preference, created: boolean, rev: number }>
  /** Deletes `key`; false when there was none. */
  delete: (userId: number, key: string, options?: StoreCallOptions) => Promise<boolean>
  /** An RFC 7396 merge patch of the user's preferences, all or nothing. */
  mergePatch: (userId: number, patch: PreferencePatch<R>, options?: StoreCallOptions) => Promise<PatchOutcome & { rev: number }>
  /** A page of the user's preferences, ordered by id. */
  list: (userId: number, options?: { key?: string, limit?: number, offset?: number }) => Promise<PreferencePage>
  /** What applies to the user: registry defaults, scopes, their own values, locks. */
  effective: (userId: number, options?: { keys?: readonly string[], groups?: readonly string[] }) => Promise<EffectiveView>
  /** Every default of `scope` (`site` or a group), ordered by key. */
  listDefaults: (scope: string) => Promise<ScopeDefault[]>
  getDefault: (scope: string, key: string) => Promise<ScopeDefault | undefined>
  setDefault: <K extends string>(scope: string, key: K, value: PreferenceValue<R, K>, options?: { locked?: boolean, actor?: Actor | null }) =>
  Promise<{ scopeDefault: ScopeDefault, created: boolean }>
  deleteDefault: (scope: string, key: string, options?: { actor?: Actor | null }) => Promise<boolean>
  /** Every preference of the user (no defaults), as the export document of GET .../export/. */
  exportPreferences: (userId: number) => Promise<ExportDocument>
  /**
   * Imports an export document (of any user) or `{ preferences }`: all or nothing, one
   * revision, the rules of every write. Sorted key lists of what changed (or would, dry run).
   */
  importPreferences: (userId: number, document: { preferences: PreferenceValues<R> } | ExportDocument, options?: ImportOptions) => Promise<ImportReport>
  /**
   * Deletes every preference of the user and their change history (an account deletion), as
   * one revision marked `erased`. Read-only and locked keys need an admin actor.
   */
  erasePreferences: (userId: number, options?: StoreCallOptions) => Promise<{ rev: number, deleted: number }>
  /** Closes the database when the store opened it (a Kysely instance given to it stays open). */
  close: () => Promise<void>
  readonly [STORE_CORE]: PreferenceCore
}

// The core hands out stored JSON text (JsonText) for the HTTP answers to send as it is; host
// code gets plain values.
const plain = <T extends { value: unknown }>(item: T): T => ({ ...item, value: plainValue(item.value) })

function plainView (view: EffectiveView): EffectiveView {
  const preferences: EffectiveView['preferences'] = Object.create(null)
  for (const [key, entry] of Object.entries(view.preferences)) preferences[key] = plain(entry)
  return { rev: view.rev, preferences }
}

function checkedKey (key: string): string {
  const problem = typeof key === 'string' ? keyProblem(key) : 'must be a string'
  if (problem !== undefined) throw new ValidationError(`The key ${quotedKey(String(key))} ${problem}`)
  return key
}

function checkedImport (document: { preferences?: unknown } | null, mode: unknown): Record<string, unknown> {
  const preferences = document?.preferences
  if (preferences === null || typeof preferences !== 'object' || Array.isArray(preferences)) {
    throw new ValidationError('An import needs { preferences: { "<key>": value, ... } }')
  }
  if (!IMPORT_MODES.includes(mode as ImportMode)) throw new ValidationError(`mode must be "merge" or "replace", got ${JSON.stringify(mode)}`)
  return preferences as Record<string, unknown>
}

function checkedScope (scope: string): string {
  if (typeof scope !== 'string' || !isScopeName(scope)) {
    throw new ValidationError(`A scope is "site" or a group name of 1 to 64 letters, digits and _ . : -, got ${JSON.stringify(scope)}`)
  }
  return scope
}

/**
 * Opens a store: the database (migrated unless `migrate: false`), the compiled registry and
 * the limits. Give it to the plugin as `store` to share one connection.
 */
export async function createPreferenceStore<const R extends KeyRegistry = KeyRegistry> (
  options: StoreOptions<R> = {}
): Promise<PreferenceStore<R>> {
  const core = await PreferenceCore.open(resolveStoreOptions(options))
  const groupsOf = core.options.groupsOf
  const context = (options: StoreCallOptions = {}): WriteContext => ({
    actor: options.actor ?? null,
    groupsOf: async (userId) => options.groups ?? await groupsOf(userId)
  })

  return {
    db: core.db,
    [STORE_CORE]: core,
    get: async (userId, key) => {
      const preference = await core.get(userId, checkedKey(key))
      return preference === undefined ? undefined : plainValue(preference.value) as never
    },
    getPreference: async (userId, key) => {
      const preference = await core.get(userId, checkedKey(key))
      return preference === undefined ? undefined : plain(preference)
    },
    set: async (userId, key, value, o) => {
      const { result: { preference, created }, rev } = await core.upsert(userId, checkedKey(key), value, context(o))
      return { preference: plain(preference), created, rev }
    },
    delete: async (userId, key, o) => await core.remove(userId, { key: checkedKey(key) }, context(o)) !== undefined,
    mergePatch: async (userId, patch, o) => {
      const { result: { results, deleted }, rev } = await core.mergePatch(userId, patch as Record<string, unknown>, context(o))
      return { results: results.map(plain), deleted, rev }
    },
    list: async (userId, o = {}) => {
      const { count, results } = await core.list(userId, {
        keys: o.key === undefined ? [] : [checkedKey(o.key)], limit: o.limit ?? 100, offset: o.offset ?? 0
      })
      return { count, results: results.map(plain) }
    },
    effective: async (userId, o = {}) => plainView(await core.effective(userId, context({ groups: o.groups }), o.keys?.map(checkedKey))),
    listDefaults: async (scope) => (await core.listDefaults(checkedScope(scope))).map(plain),
    getDefault: async (scope, key) => {
      const found = await core.getDefault(checkedScope(scope), checkedKey(key))
      return found === undefined ? undefined : plain(found)
    },
    setDefault: async (scope, key, value, o = {}) => {
      const { scopeDefault, created } = await core.putDefault(checkedScope(scope), checkedKey(key), value, o.locked ?? false, o.actor ?? null)
      return { scopeDefault: plain(scopeDefault), created }
    },
    deleteDefault: async (scope, key, o = {}) => core.deleteDefault(checkedScope(scope), checkedKey(key), o.actor ?? null),
    exportPreferences: async (userId) => {
      const document = await core.exportPreferences(userId)
      for (const key of Object.keys(document.preferences)) document.preferences[key] = plainValue(document.preferences[key])
      return document
    },
    importPreferences: async (userId, document, o = {}) => {
      const mode = o.mode ?? 'merge'
      return core.importPreferences(userId, checkedImport(document, mode), { mode, dryRun: o.dryRun === true }, context(o))
    },
    erasePreferences: async (userId, o) => {
      const { result: { deleted }, rev } = await core.erase(userId, context(o))
      return { rev, deleted }
    },
    close: async () => { await core.close() }
  }
}
