// fastify-user-preferences/client: a typed fetch client, safe for browsers (no server code).
export { PreferencesApiError, type PreferencesClientErrorCode } from './api-error.js'
export {
  createPreferencesClient, type CallOptions, type ImportOptions, type ListOptions, type PreferencesClient, type PreferencesClientOptions,
  type ReadOptions, type SetOptions, type SetResult, type Updater, type UpdateOptions, type UserRef, type WriteOptions
} from './preferences-client.js'
export {
  type IfSent, NOT_MODIFIED, type NotModified, PRECONDITION_FAILED, type PreconditionFailed, type WithEtag
} from './outcomes.js'
export {
  live, type LiveOptions, type LivePreferences, subscribe, type StreamOptions, type SubscribeOptions, type Subscription
} from './subscribe.js'
export type { EffectiveEntry, EffectiveView } from '../schemas/effective-view.js'
export type { Revision } from '../schemas/revision.js'
export type {
  CreatePreferenceBody, ListPreferencesQuery, MergePatchResult, PatchPreferenceBody, Preference, PreferenceList
} from '../schemas/preference.js'
export type { ExportDocument, ImportBody, ImportMode, ImportReport } from '../schemas/portability.js'
export type { ErrorBody } from '../schemas/error-body.js'
export type { PreferencesErrorCode } from '../schemas/error-catalogue.js'
