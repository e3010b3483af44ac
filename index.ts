// The package's public API: what a host application needs, by name.
import userPreferences from './plugins/user-preferences.js'

export default userPreferences
export { userPreferences }

// The plugin's options, and who the caller is.
export type {
  Caller, CallerMapper, CanManageScope, HostAuthOptions, HostVerifier, JwtAlgorithm, PreferencesAuthOptions,
  PreferencesPluginOptions, PreferencesRedis, PublicKeyAuthOptions, RateLimitOptions, SecretAuthOptions, TokenClaims
} from './options/plugin-options.js'
export { HOST_JWT } from './options/plugin-options.js'
// What the plugin sets on its own routes' requests and its own instance is typed for its code
// only (plugins/fastify-internal.d.ts): the package's types augment nothing of Fastify's.
export { defaultMapCaller } from './plugins/authenticate.js'
export type { PathParameters } from './plugins/authorize.js'
export type { StorePluginOptions } from './plugins/store.js'

// The programmatic store, and the key registry it enforces.
export { createPreferenceStore, type ImportOptions, type PreferenceStore, type StoreCallOptions } from './store/preference-store.js'
export type { GroupsOf, PreferencesRequest, StoreOptions } from './store/store-options.js'
export type { Actor } from './store/preference-core.js'
export {
  defineKeys, type KeyDefinition, type KeyRegistry, type KeyWritable, type PreferencePatch, type PreferenceValue,
  type PreferenceValues, type RegisteredKey
} from './schemas/key-registry.js'

// The database, for a host that opens it or migrates it itself.
export { openDatabase, parseDatabaseUrl, type ConnectOptions, type OpenedDatabase } from './db/connect.js'
export { createMigrator, migrateToLatest } from './db/migrate.js'
export type { Database, PreferenceDefaultTable, UserPreferenceTable } from './db/types.js'

// Schemas a host reuses in its own routes or documents, and the types they stand for.
export {
  CreatePreferenceBodySchema, MergePatchResultSchema, PatchPreferenceBodySchema, PreferenceKeySchema,
  PreferenceListSchema, PreferenceSchema, PreferenceValueSchema, UpsertPreferenceBodySchema,
  type CreatePreferenceBody, type MergePatchResult, type PatchPreferenceBody, type Preference, type PreferenceList,
  type UpsertPreferenceBody
} from './schemas/preference.js'
export {
  EffectiveEntrySchema, EffectiveViewSchema, type EffectiveEntry, type EffectiveView
} from './schemas/effective-view.js'
export {
  PutScopeDefaultBodySchema, ScopeDefaultListSchema, ScopeDefaultSchema, type PutScopeDefaultBody, type ScopeDefault,
  type ScopeDefaultList
} from './schemas/scope-default.js'
export {
  EXPORT_FORMAT, ExportDocumentSchema, ImportBodySchema, ImportReportSchema, type ExportDocument, type ImportBody, type ImportMode,
  type ImportReport
} from './schemas/portability.js'
export { ErrorSchema, type ErrorBody } from './schemas/error-body.js'
export { ERROR_CATALOGUE, ERROR_CODES, type PreferencesErrorCode } from './schemas/error-catalogue.js'
export {
  bearerSecurityScheme, PREFERENCE_DEFAULTS_TAG, PREFERENCES_SECURITY_SCHEME, PREFERENCES_TAG, preferencesOpenapi, preferencesSecuritySchemes,
  preferencesTags, type BearerSecurityScheme
} from './schemas/openapi.js'
