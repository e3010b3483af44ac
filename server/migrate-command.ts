import { migrateToLatest, openDatabase } from '../index.js'

// Applies pending migrations to DATABASE_URL (same rules as the server) and exits.
let opened
try {
  opened = openDatabase(process.env.DATABASE_URL)
} catch (error) {
  process.stderr.write(`DATABASE_URL: ${(error as Error).message}\n`)
  process.exit(1)
}
const { db, description } = opened
try {
  const { results = [] } = await migrateToLatest(db)
  process.stdout.write(`${description}: ${results.length === 0 ? 'already up to date' : ''}\n`)
  for (const result of results) process.stdout.write(`  ${result.status}: ${result.migrationName}\n`)
} catch (error) {
  process.stderr.write(`migration failed: ${(error as Error).message}\n`)
  process.exitCode = 1
} finally {
  await db.destroy()
}
