import type { Kysely, MigrationResult } from 'kysely'
import { upsertPreferenceByKey, type UpsertResult } from '../db/by-key-repository.js'
import { announceRevisions, othersListen } from '../db/change-notify.js'
import { openDatabase } from '../db/connect.js'
import { applyPreferencePatch, type PatchOutcome, type PatchPlan } from '../db/merge-patch-repository.js'
import { migrateToLatest } from '../db/migrate.js'
import { erasePreferences, readAllPreferences } from '../db/portability-repository.js'
import {
  createIfFree, createPreference, deletePreference, deletePreferenceIfUnchanged, findPreference, findPreferenceByKey, isPostgres,
  listPreferences, type ListFilter, type Precondition, type PreferenceChanges, type PreferencePage, type PreferenceTarget,
  type Revised, updatePreference, updatePreferenceIfUnchanged
} from '../db/preference-repository.js'
import {
  currentRevision, currentRevisions, listRevisions, revisionsNaming, type RevisionLog, toRevisionRow
} from '../db/revision-repository.js'
import type { HistoryEntry, RevisionRow } from '../schemas/revision.js'
import { ChangeBus } from './change-bus.js'
import { RevisionAnnouncer } from './revision-announcer.js'
import {
  deleteScopeDefault, findLayers, findLocks, findScopeDefault, listScopeDefaults, upsertScopeDefault
} from '../db/scope-default-repository.js'
import type { Database, KeyPolicy } from '../db/types.js'
import { mergePatch } from '../lib/json-merge-patch.js'
import { jsonTextOf, plainValue } from '../lib/json-text.js'
import type { EffectiveView } from '../schemas/effective-view.js'
import {
  ChangesExpiredError, KeyLockedError, KeyReadOnlyError, MalformedBodyError, ValidationError
} from '../schemas/errors.js'
import { EXPORT_FORMAT, type ExportDocument, type ImportMode, type ImportReport } from '../schemas/portability.js'
import { keyProblem, type Preference } from '../schemas/preference.js'
import { isScopeName, type ScopeDefault } from '../schemas/scope-default.js'
import { computeEffectiveView } from './effective.js'
import { EffectiveViewMemo } from './effective-memo.js'
import { type CompiledRegistry, writePolicy } from './key-registry.js'
import type { ResolvedStoreOptions } from './store-options.js'
import { encodeValue, quotedKey } from './values.js'

/** An error that answers 4xx: the client's mistake, not the database's. */
const isClientError = (error: unknown): boolean => {
  const status = (error as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 500
}

// About 10 KB each for a view of 50 keys: a few MB at most.
const VIEW_MEMO_USERS = 256

/** What writeAtOnce writes and what it checks first. */
interface AtOnceWrite<T> {
  target: PreferenceTarget
  /** The keys of the stored row whose locks answer before anything else. */
  keysOf: (current: Preference) => string[]
  /** `check` must see the stored row: the statement cannot check the registry itself. */
  needsKey: boolean
  check: (current: Preference) => void
  precondition: Precondition | undefined
  /** Read the row first whatever the checks (a rename logs the old key). */
  read: boolean
  /** The statement, given the row as read (undefined when it was not read). */
  write: (expected?: Preference) => Promise<Revised<T> | undefined>
}

/** writeAtOnce could not write: take the locking path. */
const LOCKING = Symbol('locking')

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
  /** Committed revisions, for the event streams of this process. */
  readonly bus = new ChangeBus()
  /** PostgreSQL writes a preference in one statement when it can (see writeAtOnce). */
  readonly postgres: boolean
  /** Announces committed revisions to the other instances (PostgreSQL). */
  readonly announcer: RevisionAnnouncer | undefined
  /** True when the registry has a say on some keys: a write must know which key it writes. */
  private readonly keyedRegistry: boolean
  /** True when some keys are read-only for non-admins: a delete by id must know its key. */
  private readonly readOnlyKeys: boolean
  /** The registry's policy for a delete by a non-admin (it depends on no value: made once). */
  private readonly deletePolicy: KeyPolicy | undefined
  /** The backend pid of this instance's own listening connection, when it has one. */
  listenerPid: (() => number | undefined) | undefined
  /** Whole effective views of recent readers, reused while their rows stay the same. */
  readonly #views = new EffectiveViewMemo(VIEW_MEMO_USERS)

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
    this.postgres = isPostgres(db)
    this.keyedRegistry = this.registry.definitions.length > 0 || this.registry.unknownKeys === 'reject'
    this.readOnlyKeys = this.registry.definitions.some((definition) => definition.writable === 'admin')
    this.deletePolicy = writePolicy(this.registry, false, undefined)
    // PostgreSQL: the other instances hear of this one's revisions (whether this one listens or not).
    // A lone instance announces nothing: only listeners other than its own would hear it.
    if (this.postgres) {
      this.announcer = new RevisionAnnouncer(async (notices) => announceRevisions(db, notices),
        async () => othersListen(db, this.listenerPid?.()))
    }
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
    await this.announcer?.flush()
    if (this.ownsDatabase) await this.db.destroy()
  }

  private log (context: WriteContext): RevisionLog {
    return { actor: context.actor, maxRevisions: this.options.maxRevisions }
  }

  /** Tells the streams about a committed revision, and hands the write's result on. */
  private published<T extends { rev: number } | undefined> (userId: number, revised: T): T {
    if (revised !== undefined) this.committed(userId, revised.rev)
    return revised
  }

  /** A revision was committed: this process's streams hear of it now, the other instances' soon. */
  private committed (userId: number, rev: number): void {
    this.bus.publish(userId, rev)
    this.announcer?.announce(userId, rev)
  }

  /** The current revision of each of these users (none for a user still at 0). */
  async currentRevisions (userIds: readonly number[]): Promise<Map<number, number>> {
    return currentRevisions(this.db, userIds)
  }

  /** The user's current revision, and the oldest one still kept. */
  async revision (userId: number): Promise<{ rev: number, oldest: number }> {
    return currentRevision(this.db, userId, this.options.maxRevisions)
  }

  /**
   * The kept revisions after `since`, at most `limit`; a 410 when some after `since` are no
   * longer kept, or `since` is beyond the current revision.
   */
  async changes (userId: number, since: number, limit: number): Promise<{ rev: number, results: RevisionRow[], more: boolean }> {
    const { rev, oldest } = await this.revision(userId)
    if (since > rev) throw new ChangesExpiredError(since, 'beyond the current one', rev)
    if (since < oldest - 1) throw new ChangesExpiredError(since, 'no longer kept', rev)
    const rows = await listRevisions(this.db, userId, since, oldest, limit + 1)
    return { rev, results: rows.slice(0, limit).map(toRevisionRow), more: rows.length > limit }
  }

  /** The kept revisions that touched `key`, newest first. */
  async history (userId: number, key: string): Promise<HistoryEntry[]> {
    const { oldest } = await this.revision(userId)
    const entries: HistoryEntry[] = []
    for (const row of await revisionsNaming(this.db, userId, key, oldest)) {
      const r = toRevisionRow(row)
      const actor = r.actorId === null ? null : { id: r.actorId, admin: r.actorAdmin === true }
      for (const change of JSON.parse(r.changes) as Array<{ op: 'set' | 'delete', key: string, value?: unknown }>) {
        if (change.key !== key) continue
        entries.push({ rev: r.rev, at: r.at, actor, op: change.op, ...(change.op === 'set' && { value: change.value }) })
      }
    }
    return entries
  }

  private encode (value: unknown, text?: string, what?: string): string {
    return encodeValue(value, this.options.maxValueBytes, what, text)
  }

  /**
   * Read-only keys (403) and scope locks (403) for a write of `keys` by a non-admin. `db` is
   * the transaction the write runs in, when it has begun (SQLite's one connection is in it).
   */
  private async guard (userId: number, keys: readonly string[], context: WriteContext, db: Kysely<Database> = this.db): Promise<void> {
    if (context.actor?.isAdmin === true) return
    this.checkReadOnly(keys, context)
    const scopes = scopesOf(await context.groupsOf(userId))
    const locks = await findLocks(db, scopes, keys)
    if (locks.length === 0) return
    for (const key of keys) {
      // Where several scopes lock a key, the lowest-precedence one (site first) is named.
      const scope = scopes.find((s) => locks.some((lock) => lock.key === key && lock.scope === s))
      if (scope !== undefined) throw new KeyLockedError(quotedKey(key), scope)
    }
  }

  /** Read-only keys (403) for a write of `keys` by a non-admin: the part of guard that needs no database. */
  private checkReadOnly (keys: readonly string[], context: WriteContext): void {
    if (context.actor?.isAdmin === true) return
    for (const key of keys) {
      if (this.registry.adminOnly(key)) throw new KeyReadOnlyError(quotedKey(key))
    }
  }

  /** The scopes whose locks bind a write by this actor (none for an admin). */
  private async lockScopes (userId: number, context: WriteContext): Promise<string[]> {
    return context.actor?.isAdmin === true ? [] : scopesOf(await context.groupsOf(userId))
  }

  /**
   * PostgreSQL's one-statement writes check the locks in the statement, after the checks
   * made here; but a lock answers before any of them (403 before 400, 409 or 412). So when
   * `fn` fails, the full guard runs first and throws the lock if there is one.
   */
  private async locksFirst<T> (userId: number, keys: readonly string[], context: WriteContext, fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      if (isClientError(error)) await this.guard(userId, keys, context)
      throw error
    }
  }

  /** True when a by-id write must read the stored key first, for the checks above. */
  private needsKey (context: WriteContext): boolean {
    return context.actor?.isAdmin !== true || this.keyedRegistry
  }

  /**
   * Runs `write` with `check` on the stored preference first, inside the write's transaction
   * with the row locked, so that a concurrent rename cannot slip between the two; then the
   * request's own precondition.
   */
  private async byId<T> (
    check: (current: Preference, trx: Kysely<Database>) => Promise<void>,
    write: (precondition: Precondition) => Promise<T>, precondition: Precondition | undefined
  ): Promise<T> {
    return write(async (row, trx) => {
      if (row !== undefined) await check(row, trx)
      await precondition?.(row, trx)
    })
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

  async create (userId: number, key: string, value: unknown, context: WriteContext, text?: string): Promise<Revised<Preference>> {
    const valueJson = this.encode(value, text)
    const max = this.options.maxPreferencesPerUser
    if (this.postgres) {
      // The lock check is part of the one statement that writes.
      this.checkReadOnly([key], context)
      const scopes = await this.lockScopes(userId, context)
      return this.published(userId, await this.locksFirst(userId, [key], context, async () => {
        this.registry.check(key, value)
        return createPreference(this.db, userId, { key, valueJson }, max, this.log(context), undefined, scopes)
      }))
    }
    await this.guard(userId, [key], context)
    this.registry.check(key, value)
    return this.published(userId, await createPreference(this.db, userId, { key, valueJson }, max, this.log(context)))
  }

  async upsert (
    userId: number, key: string, value: unknown, context: WriteContext, options: WriteOptions = {}
  ): Promise<Revised<UpsertResult>> {
    const valueJson = this.encode(value, options.text)
    if (this.postgres) {
      // Replacing a stored key is an update of its row in one statement, creating one an
      // insert in one statement; both check the locks too. Only a precondition needs the row first.
      this.checkReadOnly([key], context)
      const scopes = await this.lockScopes(userId, context)
      const expected = await this.locksFirst(userId, [key], context, async () => {
        this.registry.check(key, value)
        if (options.precondition === undefined) return undefined
        const current = await findPreferenceByKey(this.db, userId, key)
        if (current !== undefined) await options.precondition(current, this.db)
        return current ?? null
      })
      if (expected !== null) {
        const replaced = await updatePreferenceIfUnchanged(this.db, userId, { key }, { valueJson }, this.log(context), expected, scopes)
        if (replaced !== undefined) {
          return this.published(userId, { result: { preference: replaced.result, created: false }, rev: replaced.rev })
        }
      }
      // Not stored: a create in one statement too. Where it writes nothing (the limit, a lock,
      // the key created meanwhile) or a precondition must see the missing row, the locking
      // path below decides.
      if (options.precondition === undefined) {
        const created = await createIfFree(this.db, userId, { key, valueJson }, this.options.maxPreferencesPerUser, this.log(context), scopes)
        if (created !== undefined) return this.published(userId, { result: { preference: created.result, created: true }, rev: created.rev })
      }
    }
    await this.guard(userId, [key], context)
    this.registry.check(key, value)
    return this.published(userId, await upsertPreferenceByKey(this.db, userId, key, valueJson, this.options.maxPreferencesPerUser,
      this.log(context), options.precondition))
  }

  /** PATCH (key and/or value) or PUT (both) of preference `id`; undefined when there is none. */
  async update (
    userId: number, id: number, changes: { key?: string, value?: unknown }, context: WriteContext, options: WriteOptions = {}
  ): Promise<Revised<Preference> | undefined> {
    const hasValue = Object.hasOwn(changes, 'value')
    const valueJson = hasValue ? this.encode(changes.value, options.text) : undefined
    const stored: PreferenceChanges = { key: changes.key, valueJson }
    const keysOf = (current: Preference) => {
      const key = changes.key ?? current.key
      return key === current.key ? [key] : [current.key, key]
    }
    const checkValue = (current: Preference) => {
      // A rename is checked against the new key's definition, with the value it will hold.
      const key = changes.key ?? current.key
      if (hasValue) this.registry.check(key, changes.value)
      else if (key !== current.key) this.registry.check(key, plainValue(current.value))
    }
    const needsKey = this.needsKey(context)
    const check = needsKey
      ? async (current: Preference, trx: Kysely<Database>) => {
        await this.guard(userId, keysOf(current), context, trx)
        checkValue(current)
      }
      : undefined
    const log = this.log(context)
    if (this.postgres) {
      // A rename logs the old key, so the row is read first whatever the checks. Otherwise the
      // statement checks the locks, and the registry's verdicts per key (a policy) when it can.
      const scopes = await this.lockScopes(userId, context)
      const policy = this.keyedRegistry && options.precondition === undefined && changes.key === undefined
        ? writePolicy(this.registry, context.actor?.isAdmin === true, hasValue ? { value: changes.value } : undefined)
        : undefined
      const done = await this.writeAtOnce(userId, context, {
        target: { id },
        keysOf,
        needsKey: this.keyedRegistry && policy === undefined,
        check: (current) => {
          this.checkReadOnly(keysOf(current), context)
          checkValue(current)
        },
        precondition: options.precondition,
        read: changes.key !== undefined,
        write: async (expected) => updatePreferenceIfUnchanged(this.db, userId, { id }, stored, log, expected, scopes, expected === undefined ? policy : undefined)
      })
      if (done !== LOCKING) return done
    }
    const write = async (precondition?: Precondition) => this.published(userId,
      await updatePreference(this.db, userId, id, stored, log, precondition))
    if (check === undefined) return write(options.precondition)
    return this.byId(check, write, options.precondition)
  }

  /** Deletes preference `target`; undefined when there is none. */
  async remove (
    userId: number, target: PreferenceTarget, context: WriteContext, precondition?: Precondition
  ): Promise<Revised<true> | undefined> {
    const log = this.log(context)
    const isAdmin = context.actor?.isAdmin === true
    const byKey = 'key' in target
    if (this.postgres) {
      // The statement checks the locks; the locking path below finds out why it wrote nothing.
      if (byKey) this.checkReadOnly([target.key], context)
      const scopes = await this.lockScopes(userId, context)
      // By id, a non-admin may not delete a read-only key: the statement checks it (a policy).
      const readOnly = !isAdmin && !byKey && this.readOnlyKeys
      const policy = readOnly && precondition === undefined ? this.deletePolicy : undefined
      const done = await this.writeAtOnce(userId, context, {
        target,
        keysOf: (current) => [current.key],
        needsKey: readOnly && policy === undefined,
        check: (current) => { this.checkReadOnly([current.key], context) },
        precondition,
        read: false,
        write: async (expected) => deletePreferenceIfUnchanged(this.db, userId, target, log, expected, scopes, expected === undefined ? policy : undefined)
      })
      if (done !== LOCKING) return done
    }
    // By key, the key to check is known before reading anything.
    if (!isAdmin && byKey) await this.guard(userId, [target.key], context)
    const check = !isAdmin && !byKey
      ? async (current: Preference, trx: Kysely<Database>) => { await this.guard(userId, [current.key], context, trx) }
      : undefined
    const remove = async (checked?: Precondition) =>
      this.published(userId, await deletePreference(this.db, userId, target, log, checked))
    if (check === undefined) return remove(precondition)
    return this.byId(check, remove, precondition)
  }

  /**
   * PostgreSQL: a write of one stored preference as one statement, which also checks the
   * locks. When something must be checked on the stored row (`needsKey`, a precondition, or
   * `read`), the row is read and `check`ed first (a lock on `keysOf` it still answers first),
   * and the statement writes only if the row is still as read. LOCKING when the statement
   * wrote nothing (the row changed in between, was not found, or is locked): the caller then
   * takes the locking path, which reads, checks and writes under the row's lock and gives
   * the final answer.
   */
  private async writeAtOnce<T> (userId: number, context: WriteContext, {
    target, keysOf, needsKey, check, precondition, read, write
  }: AtOnceWrite<T>): Promise<Revised<T> | undefined | typeof LOCKING> {
    let expected: Preference | undefined
    if (needsKey || precondition !== undefined || read) {
      expected = 'id' in target ? await findPreference(this.db, userId, target.id) : await findPreferenceByKey(this.db, userId, target.key)
      // Not found: the locking path answers, a lock before the 404.
      if (expected === undefined) return LOCKING
      const current = expected
      await this.locksFirst(userId, keysOf(current), context, async () => {
        if (needsKey) check(current)
        await precondition?.(current, this.db)
      })
    }
    const revised = await write(expected)
    return revised === undefined ? LOCKING : this.published(userId, revised)
  }

  /**
   * RFC 7396 over the user's preferences seen as one object: null deletes a key, an object
   * merges into a stored object, anything else sets it. All or nothing.
   */
  async mergePatch (userId: number, patch: Record<string, unknown>, context: WriteContext): Promise<Revised<PatchOutcome>> {
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
    const revised = await applyPreferencePatch(this.db, userId, keys, plan, this.options.maxPreferencesPerUser, this.log(context))
    // A patch that changed nothing made no revision: nothing to tell.
    if (revised.result.results.length + revised.result.deleted.length > 0) this.committed(userId, revised.rev)
    return revised
  }

  /** Every preference of the user as an export document (values as stored JSON text). */
  async exportPreferences (userId: number, now: Date = new Date()): Promise<ExportDocument> {
    const { rev, preferences: rows } = await readAllPreferences(this.db, userId, this.options.maxRevisions)
    // No prototype: a key named __proto__ is a key like any other.
    const preferences: Record<string, unknown> = Object.create(null)
    for (const row of rows) preferences[row.key] = row.value
    return { format: EXPORT_FORMAT, user_id: userId, exported_at: now.toISOString(), rev, preferences }
  }

  /**
   * Sets the given keys (`merge`), and with `replace` deletes the user's other keys: all or
   * nothing, one revision, with the rules of every write (sizes, read-only keys and locks,
   * registry, the per-user limit). Only keys whose value changes are written and logged. A dry
   * run decides and checks the same way and writes nothing.
   */
  async importPreferences (
    userId: number, preferences: Record<string, unknown>, options: { mode: ImportMode, dryRun: boolean }, context: WriteContext
  ): Promise<ImportReport> {
    const keys = Object.keys(preferences)
    const encoded = new Map<string, string>()
    for (const key of keys) {
      const problem = keyProblem(key)
      if (problem !== undefined) throw new ValidationError(`The key ${quotedKey(key)} ${problem}`)
    }
    // Sizes first (413), before anything is read.
    for (const key of keys) encoded.set(key, this.encode(preferences[key], undefined, `The value of ${quotedKey(key)}`))

    let report: Omit<ImportReport, 'rev' | 'dry_run'> = { created: [], updated: [], deleted: [], unchanged: [] }
    const plan = async (current: ReadonlyMap<string, Preference>, trx: Kysely<Database>): Promise<PatchPlan> => {
      // Decided afresh each time: the transaction may run again.
      report = { created: [], updated: [], deleted: [], unchanged: [] }
      const writes: PatchPlan['writes'] = []
      for (const key of keys) {
        const valueJson = encoded.get(key) as string
        const stored = current.get(key)
        if (stored !== undefined && (jsonTextOf(stored.value) === valueJson || JSON.stringify(plainValue(stored.value)) === valueJson)) {
          report.unchanged.push(key)
          continue
        }
        ;(stored === undefined ? report.created : report.updated).push(key)
        writes.push({ key, valueJson })
      }
      if (options.mode === 'replace') report.deleted = [...current.keys()].filter((key) => !encoded.has(key))
      const touched = [...writes.map((w) => w.key), ...report.deleted]
      if (touched.length > 0) await this.guard(userId, touched, context, trx)
      for (const { key } of writes) this.registry.check(key, preferences[key])
      return { writes, deletes: report.deleted }
    }
    const { rev } = await applyPreferencePatch(this.db, userId, options.mode === 'replace' ? 'all' : keys, plan,
      this.options.maxPreferencesPerUser, this.log(context), { dryRun: options.dryRun })
    const changed = report.created.length + report.updated.length + report.deleted.length > 0
    if (changed && !options.dryRun) this.committed(userId, rev)
    const sorted = (list: string[]) => [...list].sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    return {
      rev,
      dry_run: options.dryRun,
      created: sorted(report.created),
      updated: sorted(report.updated),
      deleted: sorted(report.deleted),
      unchanged: sorted(report.unchanged)
    }
  }

  /**
   * Deletes every preference of the user and their change history, in one transaction; the
   * erasure is one revision (`erased`), and the streams reset. A non-admin may not erase keys
   * they could not delete one by one (read-only keys, locked keys: 403).
   */
  async erase (userId: number, context: WriteContext): Promise<Revised<{ deleted: number }>> {
    return this.published(userId, await erasePreferences(this.db, userId, this.log(context), async (keys, trx) => {
      if (keys.length > 0) await this.guard(userId, keys, context, trx)
    }))
  }

  /** What applies to the user, key by key (all keys, or only `keys`). */
  async effective (userId: number, context: Pick<WriteContext, 'groupsOf'>, keys?: readonly string[]): Promise<EffectiveView> {
    const scopes = scopesOf(await context.groupsOf(userId))
    const rows = await findLayers(this.db, userId, scopes, keys)
    if (keys !== undefined) return computeEffectiveView(this.registry, scopes, rows, keys)
    const remembered = this.#views.find(userId, scopes, rows)
    if (remembered !== undefined) return remembered
    const view = computeEffectiveView(this.registry, scopes, rows)
    this.#views.remember(userId, scopes, rows, view)
    return view
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
