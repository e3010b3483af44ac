/// <reference path="./fastify-internal.d.ts" />
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { PreferenceCore } from '../store/preference-core.js'
import type { ResolvedStoreOptions } from '../store/store-options.js'

export interface StorePluginOptions {
  /** Options to open a store with (closed with the app), or a store the host gave (left open). */
  store: ResolvedStoreOptions | PreferenceCore
}

async function storePlugin (fastify: FastifyInstance, options: StorePluginOptions): Promise<void> {
  let core: PreferenceCore
  if (options.store instanceof PreferenceCore) {
    core = options.store
  } else {
    core = await PreferenceCore.open(options.store)
    fastify.addHook('onClose', async () => { await core.close() })
    if (core.description !== undefined) fastify.log.info({ database: core.description }, 'preferences: database opened')
    for (const result of core.migrations) {
      fastify.log.info({ migration: result.migrationName, status: result.status }, 'preferences: migration')
    }
  }
  fastify.decorate('preferencesStore', core)
  fastify.decorate('preferencesDb', core.db)
}

export default fp(storePlugin, { name: 'preferences-store', fastify: '5.x' })
