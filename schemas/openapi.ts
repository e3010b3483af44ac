// What a host application needs to document the plugin's routes in its own OpenAPI document.
// The routes themselves carry their schemas (TypeBox, the ones that validate requests), tags
// and security requirement; @fastify/swagger, registered by the host before the plugin,
// collects them. Only the parts that live at the document's top level are defined here.

/** The name under which the plugin's operations require their security scheme. */
export const PREFERENCES_SECURITY_SCHEME = 'bearerAuth'

/** The tag of the operations on a user's preferences. */
export const PREFERENCES_TAG = 'preferences'

/** The tag of the operations on scope defaults. */
export const PREFERENCE_DEFAULTS_TAG = 'preference defaults'

export interface BearerSecurityScheme {
  type: 'http'
  scheme: 'bearer'
  bearerFormat: string
  description: string
}

/** The Bearer JWT security scheme, for `components.securitySchemes`. */
export const bearerSecurityScheme: BearerSecurityScheme = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description: 'A JWT in `Authorization: Bearer <token>`. The caller is the token\'s `sub`; ' +
    'an admin (`roles` contains "admin", or `role` is "admin") may act on any user.'
}

/** `components.securitySchemes` for a host's document: `{ bearerAuth: ... }`. */
export const preferencesSecuritySchemes: Record<typeof PREFERENCES_SECURITY_SCHEME, BearerSecurityScheme> = {
  [PREFERENCES_SECURITY_SCHEME]: bearerSecurityScheme
}

/** The plugin's tag, for a host document's `tags`. */
export const preferencesTags: Array<{ name: string, description: string }> = [
  { name: PREFERENCES_TAG, description: 'A user\'s preferences: a key/value store per user' },
  { name: PREFERENCE_DEFAULTS_TAG, description: 'Defaults for everyone (`site`) or a group, optionally locked' }
]

/**
 * What to merge into the `openapi` option of @fastify/swagger:
 *
 * ```ts
 * await app.register(swagger, { openapi: {
 *   info: { title: 'My API', version: '1.0.0' },
 *   components: { securitySchemes: { ...preferencesOpenapi.components.securitySchemes } },
 *   tags: [...preferencesOpenapi.tags]
 * } })
 * ```
 */
export const preferencesOpenapi = {
  components: { securitySchemes: preferencesSecuritySchemes },
  tags: preferencesTags
}
