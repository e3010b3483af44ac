import type { Kysely, MigrationResult } from 'kysely'
import { upsertPreferenceByKey, type UpsertResult } from '../db/by-key-repository.js'
import { openDatabase } from '../db/connect.js'
import { applyPreferencePatch, type PatchOutcome, type PatchPlan } from '../db/merge-patch-repository.js'
import { migrateToLatest } from '../db/migrate.js'
import {
  createPreference, deletePreference, findPreference, findPreferenceByKey, listPreferences, type ListFilter,
  type Precondition, type PreferencePage, type PreferenceTarget, updatePreference
} from '../db/preference-repository.js'
import {
  deleteScopeDefault, findLayers, findLocks, findScopeDefault, listScopeDefaults, upsertScopeDefault
} from '../db/scope-default-repository.js'
import type { Database } from '../db/types.js'
import { mergePatch } from '../lib/json-merge-patch.js'
import { plainValue } from '../lib/json-text.js'
import type { EffectiveView } from '../schemas/effective-view.js'
import {
  KeyLockedError, KeyReadOnlyError, MalformedBodyError, ValidationError
} from '../schemas/errors.js'
import { keyProblem, type Preference } from '../schemas/preference.js'
import { isScopeName, type ScopeDefault } from '../schemas/scope-default.js'
import { computeEffectiveView } from './effective.js'
import type { CompiledRegistry } from './key-registry.js'
import type { ResolvedStoreOptions } from './store-options.js'
import { encodeValue, quotedKey } from './values.js'

/** Who acts: a user (an admin or not), or null for the host application itself. */
export interface Actor {
  id: number
  isAdmin: boolean
}

/** Who writes, and how to learn the target user's groups (asked only when needed). */
export interface WriteContext {
  actor: Actor | null
  groupsOf: (userId: number) => Promise<readonly string[]>
}

export interface WriteOptions {
  /** The JSON text of the value as the client sent it (kept as stored text). */
  text?: string
  precondition?: Precondition
}

/** Thrown inside a by-id write when the row's key changed since its checks: they run again. */
const KEY_MOVED = Symbol('key moved')
const KEY_MOVED_ATTEMPTS = 3

/** `site`, then the user's groups in their order (valid names only, each once). */
export function scopesOf (groups: readonly string[]): string[] {
  const scopes = ['site']
  for (const group of groups) {
    if (typeof group === 'string' && isScopeName(group) && !scopes.includes(group)) scopes.push(group)
  }
  return scopes
}

/**
 * Every operation on preferences and scope defaults, with the rules they share: value size
 * (413), then read-only keys and locks (403), then the registry (400), then the database's
 * own answers (404, 409, 412). The HTTP routes and the programmatic store both come here.
 */
export class PreferenceCore {
  readonly registry: CompiledRegistry

  private constructor (
    readonly db: Kysely<Database>,
    readonly options: ResolvedStoreOptions,
    /** True when the store opened the database (and so closes it). */
    private readonly ownsDatabase: boolean,
    readonly migrations: readonly MigrationResult[],
    /** Where the database is, without credentials (when the store opened it), for logs. */
    readonly description?: string
  ) {
    this.registry = options.registry
  }

  /** Opens the database (when given as a string) and migrates it unless told not to. */
  static async open (options: ResolvedStoreOptions): Promise<PreferenceCore> {
    const owned = typeof options.database === 'string'
    const opened = typeof options.database === 'string' ? openDatabase(options.database, options.databaseOptions) : undefined
    const db = opened?.db ?? options.database as Kysely<Database>
    let migrations: MigrationResult[] = []
    if (options.migrate) {
      try {
        migrations = (await migrateToLatest(db)).results ?? []
      } catch (error) {
        if (owned) await db.destroy()
        throw error
      }
    }
    return new PreferenceCore(db, options, owned, migrations, opened?.description)
  }

  async close (): Promise<void> {
    if (this.ownsDatabase) await this.db.destroy()
  }

  private encode (value: unknown, text?: string, what?: string): string {
    return encodeValue(value, this.options.maxValueBytes, what, text)
  }

  /** Read-only keys (403) and scope locks (403) for a write of `keys` by a non-admin. */
  private async guard (userId: number, keys: readonly string[], context: WriteContext): Promise<void> {
    if (context.actor?.isAdmin === true) return
    for (const key of keys) {
      if (this.registry.adminOnly(key)) throw new KeyReadOnlyError(quotedKey(key))
    }
    const scopes = scopesOf(await context.groupsOf(userId))
    const locks = await findLocks(this.db, scopes, keys)
    if (locks.length === 0) return
    for (const key of keys) {
      // Where several scopes lock a key, the lowest-precedence one (site first) is named.
      const scope = scopes.find((s) => locks.some((lock) => lock.key === key && lock.scope === s))
      if (scope !== undefined) throw new KeyLockedError(quotedKey(key), scope)
    }
  }

  /** True when a by-id write must read the stored key first, for the checks above. */
  private needsKey (context: WriteContext): boolean {
    return context.actor?.isAdmin !== true || this.registry.definitions.length > 0 || this.registry.unknownKeys === 'reject'
  }

  /**
   * Runs `write` after checking the stored preference `id` (its key, read first); again when a
   * concurrent rename moved the key between the checks and the write.
   */
  private async byId<T> (
    userId: number, id: number, check: (current: Preference) => Promise<void>,
    write: (precondition: Precondition) => Promise<T>, precondition: Precondition | undefined, absent: T
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const current = await findPreference(this.db, userId, id)
      if (current === undefined) return absent
      await check(current)
      try {
        return await write((row) => {
          if (row !== undefined && row.key !== current.key) throw KEY_MOVED
          precondition?.(row)
        })
      } catch (error) {
        if (error !== KEY_MOVED || attempt >= KEY_MOVED_ATTEMPTS) throw error
      }
    }
  }

  async get (userId: number, key: string): Promise<Preference | undefined> {
    return findPreferenceByKey(this.db, userId, key)
  }

  async getById (userId: number, id: number): Promise<Preference | undefined> {
    return findPreference(this.db, userId, id)
  }

  async list (userId: number, filter: ListFilter): Promise<PreferencePage> {
    return listPreferences(this.db, userId, filter)
  }

  async create (userId: number, key: string, value: unknown, context: WriteContext, text?: string): Promise<Preference> {
    const valueJson = this.encode(value, text)
    await this.guard(userId, [key], context)
    this.registry.check(key, value)
    return createPreference(this.db, userId, { key, valueJson }, this.options.maxPreferencesPerUser)
  }

  async upsert (userId: number, key: string, value: unknown, context: WriteContext, options: WriteOptions = {}): Promise<UpsertResult> {
    const valueJson = this.encode(value, options.text)
    await this.guard(userId, [key], context)
    this.registry.check(key, value)
    return upsertPreferenceByKey(this.db, userId, key, valueJson, this.options.maxPreferencesPerUser, options.precondition)
  }

  /** PATCH (key and/or value) or PUT (both) of preference `id`; undefined when there is none. */
  async update (
    userId: number, id: number, changes: { key?: string, value?: unknown }, context: WriteContext, options: WriteOptions = {}
  ): Promise<Preference | undefined> {
    const hasValue = Object.hasOwn(changes, 'value')
    const valueJson = hasValue ? this.encode(changes.value, options.text) : undefined
    const write = (precondition?: Precondition) =>
      updatePreference(this.db, userId, id, { key: changes.key, valueJson }, precondition)
    if (!this.needsKey(context)) return write(options.precondition)
    return this.byId(userId, id, async (current) => {
      const key = changes.key ?? current.key
      await this.guard(userId, key === current.key ? [key] : [current.key, key], context)
      // A rename is checked against the new key's definition, with the value it will hold.
      if (hasValue) this.registry.check(key, changes.value)
      else if (key !== current.key) this.registry.check(key, plainValue(current.value))
    }, write, options.precondition, undefined)
  }

  /** Deletes preference `target`; false when there is none. */
  async remove (userId: number, target: PreferenceTarget, context: WriteContext, precondition?: Precondition): Promise<boolean> {
    if (context.actor?.isAdmin === true) return deletePreference(this.db, userId, target, precondition)
    if ('key' in target) {
      await this.guard(userId, [target.key], context)
      return deletePreference(this.db, userId, target, precondition)
    }
    return this.byId(userId, target.id, async (current) => { await this.guard(userId, [current.key], context) },
      async (checked) => deletePreference(this.db, userId, target, checked), precondition, false)
  }

  /**
   * RFC 7396 over the user's preferences seen as one object: null deletes a key, an object
   * merges into a stored object, anything else sets it. All or nothing.
   */
  async mergePatch (userId: number, patch: Record<string, unknown>, context: WriteContext): Promise<PatchOutcome> {
    const keys = Object.keys(patch)
    for (const key of keys) {
      const problem = keyProblem(key)
      if (problem !== undefined) throw new ValidationError(`The key ${quotedKey(key)} ${problem}`)
    }
    await this.guard(userId, keys, context)
    const plan = (current: ReadonlyMap<string, Preference>): PatchPlan => {
      const result: PatchPlan = { writes: [], deletes: [] }
      for (const key of keys) {
        const value = patch[key]
        if (value === null) {
          result.deletes.push(key)
          continue
        }
        let merged: unknown
        try {
          merged = mergePatch(plainValue(current.get(key)?.value), value)
        } catch {
          throw new MalformedBodyError(`The value of ${quotedKey(key)} is nested too deeply`)
        }
        const valueJson = this.encode(merged, undefined, `The value of ${quotedKey(key)}`)
        // The merged result is what is stored, so it is what the registry checks.
        this.registry.check(key, merged)
        result.writes.push({ key, valueJson })
      }
      return result
    }
    return applyPreferencePatch(this.db, userId, keys, plan, this.options.maxPreferencesPerUser)
  }

  /** What applies to the user, key by key (all keys, or only `keys`). */
  async effective (userId: number, context: Pick<WriteContext, 'groupsOf'>, keys?: readonly string[]): Promise<EffectiveView> {
    const scopes = scopesOf(await context.groupsOf(userId))
    const rows = await findLayers(this.db, userId, scopes, keys)
    return computeEffectiveView(this.registry, scopes, rows, keys)
  }

  async listDefaults (scope: string): Promise<ScopeDefault[]> {
    return listScopeDefaults(this.db, scope)
  }

  async getDefault (scope: string, key: string): Promise<ScopeDefault | undefined> {
    return findScopeDefault(this.db, scope, key)
  }

  /** Sets a scope's default (the caller may manage the scope: checked by whoever calls). */
  async putDefault (
    scope: string, key: string, value: unknown, locked: boolean, actor: Actor | null, text?: string
  ): Promise<{ scopeDefault: ScopeDefault, created: boolean }> {
    const valueJson = this.encode(value, text)
    if (actor?.isAdmin !== true && this.registry.adminOnly(key)) throw new KeyReadOnlyError(quotedKey(key))
    this.registry.check(key, value)
    return upsertScopeDefault(this.db, scope, key, valueJson, locked)
  }

  async deleteDefault (scope: string, key: string, actor: Actor | null): Promise<boolean> {
    if (actor?.isAdmin !== true && this.registry.adminOnly(key)) throw new KeyReadOnlyError(quotedKey(key))
    return deleteScopeDefault(this.db, scope, key)
  }
}
