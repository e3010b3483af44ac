import pg from 'pg'

// Exit 0 when PostgreSQL at the given URL answers within 3 s, 1 otherwise.
const client = new pg.Client({ connectionString: process.argv[2], connectionTimeoutMillis: 3000 })
try {
  await client.connect()
  await client.query('select 1')
  process.exitCode = 0
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`)
  process.exitCode = 1
} finally {
  await client.end().catch(() => {})
}
