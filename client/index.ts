// fastify-user-preferences/client: a typed fetch client, safe for browsers (no server code).
export { PreferencesApiError, type PreferencesClientErrorCode } from './api-error.js'
export {
  createPreferencesClient, type CallOptions, type ListOptions, type PreferencesClient, type PreferencesClientOptions,
  type UserRef
} from './preferences-client.js'
export type {
  CreatePreferenceBody, ListPreferencesQuery, PatchPreferenceBody, Preference, PreferenceList
} from '../schemas/preference.js'
export type { ErrorBody } from '../schemas/error-body.js'
export type { PreferencesErrorCode } from '../schemas/error-catalogue.js'
