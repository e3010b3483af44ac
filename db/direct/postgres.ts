import type { PostgresPool, PostgresPoolClient } from 'kysely'
import pg from 'pg'
import type { DirectExecutor, TransactionRunner } from './compiled-statements.js'

const NAMED_STATEMENTS = 256

/**
 * Kysely sends every query unnamed, so PostgreSQL parses and plans it each time. Giving each
 * distinct SQL text a name makes pg prepare it once per connection and then only bind and
 * execute. The names are bounded: past that many distinct texts, queries go unnamed.
 * Statements without parameters (BEGIN, COMMIT) stay unnamed: pg sends them in the simple
 * protocol, one message instead of five.
 */
export function namedStatements (pool: pg.Pool): { pool: PostgresPool, execute: DirectExecutor, transaction: TransactionRunner } {
  const names = new Map<string, string>()
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text)
    if (name === undefined && names.size < NAMED_STATEMENTS) {
      name = `user_preference_${names.size}`
      names.set(text, name)
    }
    return name
  }
  // Not async: the driver's promise is handed on as it is.
  const query = (client: pg.Pool | pg.PoolClient, text: string, values: unknown[]): Promise<pg.QueryResult> => {
    if (values.length === 0) return client.query(text)
    const name = nameOf(text)
    return client.query(name === undefined ? { text, values } : { name, text, values })
  }
  // One wrapper per pg client, so that Kysely finds its connection object for it again.
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  return {
    pool: {
      connect: async () => {
        const client = await pool.connect()
        let wrapper = wrappers.get(client)
        if (wrapper === undefined) {
          wrapper = {
            query: (async (text: string, values: unknown[]) => query(client, text, values)) as unknown as PostgresPoolClient['query'],
            release: () => { client.release() }
          }
          wrappers.set(client, wrapper)
        }
        return wrapper
      },
      end: async () => { await pool.end() }
    },
    execute: (text, values) => query(pool, text, values),
    transaction: async (body) => {
      const client = await pool.connect()
      // Set when a statement failed without an answer from the server (a query timeout, a lost
      // connection): the connection's state is unknown, so it is closed, never rolled back on
      // (a ROLLBACK would only wait for the same timeout again) and never reused.
      let lost: Error | undefined
      const run = async (text: string, values: unknown[]): Promise<pg.QueryResult> => {
        try {
          return await query(client, text, values)
        } catch (error) {
          if (!(error instanceof pg.DatabaseError)) lost = error as Error
          throw error
        }
      }
      try {
        await run('BEGIN', [])
        const result = await body(run)
        await run('COMMIT', [])
        return result
      } catch (error) {
        // After a failed COMMIT the transaction is already over: this ROLLBACK only warns.
        if (lost === undefined) await client.query('ROLLBACK').catch((rollbackError: Error) => { lost = rollbackError })
        throw error
      } finally {
        client.release(lost)
      }
    }
  }
}
