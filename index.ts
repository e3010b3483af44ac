// The package's public API: what a host application needs, by name.
import userPreferences from './plugins/user-preferences.js'

export default userPreferences
export { userPreferences }

// The plugin's options, and who the caller is.
export type {
  Caller, CallerMapper, HostAuthOptions, HostVerifier, JwtAlgorithm, PreferencesAuthOptions, PreferencesPluginOptions,
  PublicKeyAuthOptions, RateLimitOptions, SecretAuthOptions, TokenClaims
} from './options/plugin-options.js'
export { HOST_JWT } from './options/plugin-options.js'
// Exporting from the plugins that decorate Fastify's types (request.preferencesCaller,
// preferencesUserId, preferenceId, preferenceKey; fastify.preferencesDb) puts those
// declarations in the package's types.
export { defaultMapCaller } from './plugins/authenticate.js'
export type { PathParameters } from './plugins/authorize.js'
export type { DatabasePluginOptions } from './plugins/database.js'

// The database, for a host that opens it or migrates it itself.
export { openDatabase, parseDatabaseUrl, type ConnectOptions, type OpenedDatabase } from './db/connect.js'
export { createMigrator, migrateToLatest } from './db/migrate.js'
export type { Database, UserPreferenceTable } from './db/types.js'

// Schemas a host reuses in its own routes or documents, and the types they stand for.
export {
  CreatePreferenceBodySchema, MergePatchResultSchema, PatchPreferenceBodySchema, PreferenceKeySchema,
  PreferenceListSchema, PreferenceSchema, PreferenceValueSchema, UpsertPreferenceBodySchema,
  type CreatePreferenceBody, type MergePatchResult, type PatchPreferenceBody, type Preference, type PreferenceList,
  type UpsertPreferenceBody
} from './schemas/preference.js'
export { ErrorSchema, type ErrorBody } from './schemas/error-body.js'
export { ERROR_CATALOGUE, ERROR_CODES, type PreferencesErrorCode } from './schemas/error-catalogue.js'
export {
  bearerSecurityScheme, PREFERENCES_SECURITY_SCHEME, PREFERENCES_TAG, preferencesOpenapi, preferencesSecuritySchemes,
  preferencesTags, type BearerSecurityScheme
} from './schemas/openapi.js'
