import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import { type ConnectOptions, openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import type { Database } from '../db/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The preferences store's Kysely instance (inside the preferences plugin only). */
    preferencesDb: Kysely<Database>
  }
}

export interface DatabasePluginOptions {
  database: string | Kysely<Database>
  databaseOptions: ConnectOptions
  migrate: boolean
}

async function databasePlugin (fastify: FastifyInstance, options: DatabasePluginOptions): Promise<void> {
  let db: Kysely<Database>
  // A string is ours to open and close; a Kysely instance belongs to the host.
  const owned = typeof options.database === 'string'
  if (typeof options.database === 'string') {
    const opened = openDatabase(options.database, options.databaseOptions)
    fastify.log.info({ database: opened.description }, 'preferences: database opened')
    db = opened.db
  } else {
    db = options.database
  }

  if (options.migrate) {
    try {
      const { results = [] } = await migrateToLatest(db)
      for (const result of results) {
        fastify.log.info({ migration: result.migrationName, status: result.status }, 'preferences: migration')
      }
    } catch (error) {
      if (owned) await db.destroy()
      throw error
    }
  }

  fastify.decorate('preferencesDb', db)
  if (owned) fastify.addHook('onClose', async () => { await db.destroy() })
}

export default fp(databasePlugin, { name: 'preferences-database', fastify: '5.x' })
