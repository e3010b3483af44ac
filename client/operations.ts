import type { MergePatchResult, PatchPreferenceBody, Preference, PreferenceList } from '../schemas/preference.js'
import type { ExportDocument, ImportReport } from '../schemas/portability.js'
import type { Revision } from '../schemas/revision.js'
import type { ScopeDefaultList } from '../schemas/scope-default.js'
import type {
  CallOptions, ChangesOptions, EffectiveOptions, ImportOptions, ListOptions, ReadOptions, SetDefaultOptions, UpdateOptions, WriteOptions
} from './options.js'
import type { IfSent, NotModified, PreconditionFailed, WithEtag } from './outcomes.js'
import type {
  EffectiveViewOf, HistoryEntryOf, KeyOf, PatchChecks, PreferenceOf, ScopeDefaultOf, Untyped, ValueChecks, ValueOf
} from './typed.js'

// The client's operations, one method per endpoint of the API, typed from the key registry R.

/** What `set` and `update` resolve to: the stored preference, and whether this call created it. */
export type SetResult<P = Preference> = WithEtag<P> & { created: boolean }

/** What `setDefault` resolves to: the scope default, and whether this call created it. */
export type SetDefaultResult<D> = D & { created: boolean }

/**
 * Computes the new value from the stored one (`undefined` when the key is not set). It may run
 * more than once: keep it free of side effects.
 */
export type Updater<V = unknown, P = Preference> = (value: V | undefined, current: WithEtag<P> | undefined) => V | Promise<V>

/** A page of the change feed: the revisions after `since`, oldest first. */
export interface ChangesPage {
  /** The user's current revision. */
  rev: number
  results: Revision[]
  /** The next page's absolute URL, or null: ask again with `since` the last result's `rev`. */
  next: string | null
}

/** The history of one key: the kept revisions that set or deleted it, newest first. */
export interface KeyHistory<E> { results: E[] }

/**
 * Methods by key first (what a frontend mostly needs), then by id, then the user's whole set,
 * the change feed and the scope defaults. A conditional option adds its outcome to the result
 * type: `get(key, { ifNoneMatch })` may resolve NOT_MODIFIED, a write with `ifMatch`
 * PRECONDITION_FAILED; without them these cannot happen and are not in the type.
 *
 * R is the key registry (`PreferencesClient<typeof keys>`): the value of a registered key has
 * its schema's type, on reads and writes; other keys hold `unknown` (any JSON).
 */
export interface PreferencesClient<R = Untyped> {
  /** GET by-key/{key}/: the preference, or `undefined` when the key is not set. */
  get: <K extends KeyOf<R>, O extends ReadOptions = CallOptions>(key: K, options?: O) =>
  Promise<WithEtag<PreferenceOf<R, K>> | undefined | IfSent<O, 'ifNoneMatch', NotModified>>
  /** PUT by-key/{key}/: creates or replaces the value; `created` tells which. */
  set: <K extends KeyOf<R>, O extends WriteOptions = CallOptions>(key: K, value: ValueOf<R, K>, options?: O) =>
  Promise<SetResult<PreferenceOf<R, K>> | IfSent<O, 'ifMatch' | 'ifNoneMatch', PreconditionFailed>>
  /** DELETE by-key/{key}/: `true`, or `false` when the key was not set. */
  delete: <O extends WriteOptions = CallOptions>(key: KeyOf<R>, options?: O) =>
  Promise<boolean | IfSent<O, 'ifMatch' | 'ifNoneMatch', PreconditionFailed>>
  /**
   * Read, compute, write with `ifMatch` (or create-only when absent); on a 412, again from the
   * read, at most `retries` times, then a PreferencesApiError PREFERENCE_PRECONDITION_FAILED.
   */
  update: <K extends KeyOf<R>>(key: K, fn: Updater<ValueOf<R, K>, PreferenceOf<R, K>>, options?: UpdateOptions) =>
  Promise<SetResult<PreferenceOf<R, K>>>
  /** GET by-key/{key}/history/: the kept revisions that set or deleted the key, newest first. */
  history: <K extends KeyOf<R>>(key: K, options?: CallOptions) => Promise<KeyHistory<HistoryEntryOf<R, K>>>
  /**
   * PATCH of the collection with an RFC 7396 merge patch (`null` deletes a key, an object merges
   * into a stored object). All or nothing. The results carry no ETag: the server sends none.
   */
  merge: <P extends PatchChecks<R, P>>(patch: P, options?: CallOptions) => Promise<MergePatchResult>
  /**
   * GET effective/: what applies to the user, key by key (registry default, site, groups, their
   * own value; a lock wins), with where it comes from. `key` keeps only those keys.
   */
  effective: <O extends EffectiveOptions = CallOptions>(options?: O) =>
  Promise<WithEtag<EffectiveViewOf<R>> | IfSent<O, 'ifNoneMatch', NotModified>>
  /** GET of the collection: one page (`key`, `search`, `limit`, `offset`). */
  list: <O extends ListOptions = CallOptions>(options?: O) =>
  Promise<WithEtag<PreferenceList> | IfSent<O, 'ifNoneMatch', NotModified>>
  /** POST of the collection: 201, the new preference (a PreferencesApiError 409 when the key exists). */
  create: <K extends KeyOf<R>>(body: { key: K, value: ValueOf<R, K> }, options?: CallOptions) => Promise<WithEtag<PreferenceOf<R, K>>>
  /** GET {id}/ (a PreferencesApiError 404 when there is none). */
  getById: <O extends ReadOptions = CallOptions>(id: number, options?: O) =>
  Promise<WithEtag<Preference> | IfSent<O, 'ifNoneMatch', NotModified>>
  /** PATCH {id}/: changes `key` and/or `value` (the key may be unknown here: the value is not typed). */
  patchById: <O extends WriteOptions = CallOptions>(id: number, patch: PatchPreferenceBody, options?: O) =>
  Promise<WithEtag<Preference> | IfSent<O, 'ifMatch' | 'ifNoneMatch', PreconditionFailed>>
  /** PUT {id}/: replaces both; never creates. */
  replaceById: <K extends KeyOf<R>, O extends WriteOptions = CallOptions>(id: number, body: { key: K, value: ValueOf<R, K> }, options?: O) =>
  Promise<WithEtag<PreferenceOf<R, K>> | IfSent<O, 'ifMatch' | 'ifNoneMatch', PreconditionFailed>>
  /** DELETE {id}/ (a PreferencesApiError 404 when there is none). */
  deleteById: <O extends WriteOptions = CallOptions>(id: number, options?: O) =>
  Promise<undefined | IfSent<O, 'ifMatch' | 'ifNoneMatch', PreconditionFailed>>
  /**
   * GET changes/: the revisions after `since`, oldest first, `limit` at a time. When they are no
   * longer all kept (or `since` is ahead of the user's revision): a PreferencesApiError 410
   * PREFERENCE_CHANGES_EXPIRED; read everything again (`effective`, `list` or `export`).
   */
  changes: (options?: ChangesOptions) => Promise<ChangesPage>
  /** GET export/: every preference of the user, as a document `import` takes back. */
  export: (options?: CallOptions) => Promise<ExportDocument>
  /** POST import/: an export document (of any user) or `{ preferences }`; all or nothing; the sorted report. */
  import: <P extends ValueChecks<R, P>>(document: { preferences: P } | ExportDocument, options?: ImportOptions) => Promise<ImportReport>
  /** DELETE of the collection: erases every preference of the user and their history. */
  erase: (options?: CallOptions) => Promise<undefined>
  /** GET /preference-defaults/{scope}/: the scope's defaults, ordered by key. */
  listDefaults: (scope: string, options?: CallOptions) => Promise<ScopeDefaultList>
  /** GET /preference-defaults/{scope}/by-key/{key}/: the default, or `undefined` when the scope sets none. */
  getDefault: <K extends KeyOf<R>>(scope: string, key: K, options?: CallOptions) => Promise<ScopeDefaultOf<R, K> | undefined>
  /** PUT /preference-defaults/{scope}/by-key/{key}/ (admins, or whom the host's canManageScope allows). */
  setDefault: <K extends KeyOf<R>>(scope: string, key: K, value: ValueOf<R, K>, options?: SetDefaultOptions) =>
  Promise<SetDefaultResult<ScopeDefaultOf<R, K>>>
  /** DELETE /preference-defaults/{scope}/by-key/{key}/: `true`, or `false` when the scope set none. */
  deleteDefault: (scope: string, key: KeyOf<R>, options?: CallOptions) => Promise<boolean>
}
