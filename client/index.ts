// fastify-user-preferences/client: a typed fetch client, safe for browsers (no server code).
export { PreferencesApiError, type PreferencesClientErrorCode } from './api-error.js'
export { createPreferencesClient } from './preferences-client.js'
export type {
  ChangesPage, KeyHistory, PreferencesClient, SetDefaultResult, SetResult, Updater
} from './operations.js'
export type {
  CallOptions, ChangesOptions, EffectiveOptions, ImportOptions, ListOptions, PreferencesClientOptions, ReadOptions, SetDefaultOptions,
  SetOptions, UpdateOptions, UserRef, WriteOptions
} from './options.js'
export {
  type IfSent, NOT_MODIFIED, type NotModified, PRECONDITION_FAILED, type PreconditionFailed, type WithEtag
} from './outcomes.js'
export {
  live, type LiveOptions, type LivePreferences, subscribe, type StreamOptions, type SubscribeOptions, type Subscription
} from './subscribe.js'
export type {
  ClientKeyRegistry, EffectiveEntryOf, EffectivePreferences, EffectiveViewOf, HistoryEntryOf, KeyOf, PreferenceOf, ScopeDefaultOf,
  Untyped, ValueOf, WithValue
} from './typed.js'
export type {
  CreatePreferenceBody, ListPreferencesQuery, MergePatchResult, PatchPreferenceBody, Preference, PreferenceList
} from '../schemas/preference.js'
export type { EffectiveEntry, EffectiveView } from '../schemas/effective-view.js'
export type { ScopeDefault, ScopeDefaultList } from '../schemas/scope-default.js'
export type { HistoryEntry, Revision } from '../schemas/revision.js'
export type { ExportDocument, ImportBody, ImportMode, ImportReport } from '../schemas/portability.js'
export type { ErrorBody } from '../schemas/error-body.js'
export type { PreferencesErrorCode } from '../schemas/error-catalogue.js'
export type { JsonSchemaValue } from '../schemas/json-schema-value.js'
export type { SchemaValue } from '../schemas/key-registry.js'
