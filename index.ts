import preferences from './plugins/preferences.js'

// Fastify's types as the plugin decorates them (request.preferencesCaller, preferencesUserId,
// preferenceId; fastify.preferencesDb): these modules carry the declaration merging, and
// exporting from them puts it in the package's .d.ts.
export type { DatabasePluginOptions } from './plugins/database.js'

export default preferences
export { preferences }
export type {
  Caller, CallerMapper, HostVerifier, JwtAlgorithm, PreferencesAuthOptions, PreferencesPluginOptions, TokenClaims
} from './plugins/options.js'
export { HOST_JWT } from './plugins/options.js'
export { defaultMapCaller } from './plugins/auth.js'
export { openDatabase, parseDatabaseUrl, type ConnectOptions } from './db/connect.js'
export { createMigrator, migrateToLatest } from './db/migrate.js'
export type { Database, UserPreferenceTable } from './db/types.js'
export * from './errors.js'
export * from './schemas/preference.js'
export { ErrorSchema, type ErrorBody } from './schemas/error.js'
export {
  bearerSecurityScheme, PREFERENCES_SECURITY_SCHEME, PREFERENCES_TAG, preferencesOpenapi, preferencesSecuritySchemes,
  preferencesTags, type BearerSecurityScheme
} from './openapi.js'
export {
  createPreferencesClient, type CallOptions, type ListOptions, type PreferencesClient, type PreferencesClientOptions,
  type UserRef
} from './client.js'
