// What the plugin adds to Fastify's types, for its own code only. A declaration file is not
// emitted by tsc, and no emitted declaration imports this one: a host compiling against the
// package does not see these members, which exist only inside the plugin's encapsulated
// context (its decorators) and on its own routes' requests (its hooks set them).
// test/package.test.ts checks that the built declarations augment nothing of Fastify's.
import type { Kysely } from 'kysely'
import type { Database } from '../db/types.js'
import type { Caller, TokenClaims } from '../options/plugin-options.js'
import type { PreferenceCore } from '../store/preference-core.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The preferences store's Kysely instance (plugins/store.ts). */
    preferencesDb: Kysely<Database>
    /** Every operation with its rules (plugins/store.ts). */
    preferencesStore: PreferenceCore
  }
  interface FastifyRequest {
    /** The authenticated caller (plugins/authenticate.ts, onRequest). */
    preferencesCaller: Caller | null
    /** The caller's verified token claims (or what the host's verify returned), e.g. for groupsOf. */
    preferencesClaims: TokenClaims | null
    /** The `{user_id}` of the path with `me` resolved, once authorised (plugins/authorize.ts). */
    preferencesUserId: number
    /** The `{id}` of the path, on routes that have one. */
    preferenceId: number
    /** The `{key}` of the path (percent-decoded), on the by-key routes. */
    preferenceKey: string
    /** The `{scope}` of the path, on the scope defaults routes. */
    preferenceScope: string
  }
  interface FastifyContextConfig {
    /** The route also takes the token as ?access_token= (for EventSource, which cannot set headers). */
    preferencesQueryToken?: boolean
    /** The content types a route accepts, for its 415 message (default: JSON or form). */
    preferencesAccepts?: string
  }
}
