/// <reference path="./fastify-internal.d.ts" />
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { InvalidOptionError } from '../schemas/errors.js'
import { PgFanout } from '../store/pg-fanout.js'
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
  if (core.announcer !== undefined) {
    core.announcer.onError = (error) => {
      fastify.log.warn({ err: error }, 'preferences: could not announce revisions to the other instances; their streams catch up at their next check')
    }
  }
  fastify.decorate('preferencesStore', core)
  fastify.decorate('preferencesDb', core.db)
  listenToOtherInstances(fastify, core)
}

/**
 * PostgreSQL: this plugin instance hears the revisions every instance commits (LISTEN on a
 * connection of its own), for its event streams; closed with the app.
 */
function listenToOtherInstances (fastify: FastifyInstance, core: PreferenceCore): void {
  const listen = core.options.listen
  if (!core.postgres) {
    if (typeof listen === 'string') throw new InvalidOptionError('changeLog.listen is for PostgreSQL; the database is SQLite')
    return
  }
  if (listen === true) {
    fastify.log.info('preferences: the database is a Kysely instance, so event streams hear only this process\'s writes; ' +
      'to run several instances, set changeLog.listen to its postgres:// URL (or false to say one instance is meant)')
    return
  }
  if (listen === false) return
  const fanout = new PgFanout({
    connectionString: listen,
    bus: core.bus,
    currentRevisions: async (userIds) => core.currentRevisions(userIds),
    log: fastify.log,
    timeoutMs: core.options.databaseOptions.connectionTimeoutMs
  })
  fanout.start()
  // This instance's own listener is no reason to announce: it hears its writes on the bus.
  core.listenerPid = () => fanout.pid
  fastify.addHook('onClose', async () => { await fanout.close() })
}

export default fp(storePlugin, { name: 'preferences-store', fastify: '5.x' })
