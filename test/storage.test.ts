import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import t from 'tap'
import type { Test } from 'tap'
import { loadConfig } from '../server/config.js'
import { DEFAULT_SQLITE_PATH, openDatabase, parseDatabaseUrl } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { freshDatabaseUrl } from './helper.js'
import { childEnv } from './child-env.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const MIGRATION = '2026-11-28-01-create-user-preference'
const MIGRATIONS = [
  MIGRATION, '2026-12-02-01-create-preference-default', '2026-12-02-02-create-preference-revision',
  '2026-12-02-03-add-preference-count'
]

interface RunResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs a TypeScript script of the repository to completion (killed after `timeoutMs`). */
function runScript (t: Test, script: string, env: Record<string, string>, timeoutMs = 30_000): Promise<RunResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', (error) => { clearTimeout(timer); reject(error) })
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
  })
}

t.test('parseDatabaseUrl', async (t) => {
  t.test('unset or empty means the default SQLite file under data/', async (t) => {
    t.equal(DEFAULT_SQLITE_PATH, 'data/preferences.sqlite')
    t.same(parseDatabaseUrl(undefined), { dialect: 'sqlite', path: 'data/preferences.sqlite' })
    t.same(parseDatabaseUrl(''), { dialect: 'sqlite', path: 'data/preferences.sqlite' })
    t.same(parseDatabaseUrl('   '), { dialect: 'sqlite', path: 'data/preferences.sqlite' })
  })

  t.test('SQLite forms', async (t) => {
    t.same(parseDatabaseUrl(':memory:'), { dialect: 'sqlite', path: ':memory:' })
    t.same(parseDatabaseUrl('sqlite:foo.db'), { dialect: 'sqlite', path: 'foo.db' })
    t.same(parseDatabaseUrl('sqlite://foo.db'), { dialect: 'sqlite', path: 'foo.db' })
    t.same(parseDatabaseUrl('sqlite:///var/lib/prefs.db'), { dialect: 'sqlite', path: '/var/lib/prefs.db' })
    t.same(parseDatabaseUrl('./x.sqlite'), { dialect: 'sqlite', path: './x.sqlite' })
    t.same(parseDatabaseUrl('/abs/dir/x.sqlite'), { dialect: 'sqlite', path: '/abs/dir/x.sqlite' })
    t.same(parseDatabaseUrl('data/other.sqlite'), { dialect: 'sqlite', path: 'data/other.sqlite' })
  })

  t.test('PostgreSQL forms', async (t) => {
    t.same(parseDatabaseUrl('postgres://u@h/db'), { dialect: 'postgres', connectionString: 'postgres://u@h/db' })
    t.same(parseDatabaseUrl('postgresql://u:p@h:5433/db?sslmode=require'),
      { dialect: 'postgres', connectionString: 'postgresql://u:p@h:5433/db?sslmode=require' })
  })

  t.test('unsupported schemes and an empty sqlite: path are option errors', async (t) => {
    for (const url of ['mysql://x', 'mongodb://h/db', 'http://example.com/db', 'sqlite:']) {
      t.throws(() => parseDatabaseUrl(url), { code: 'PREFERENCE_INVALID_OPTION' }, url)
    }
    t.throws(() => parseDatabaseUrl('mysql://x'), { message: /mysql:\/\// }, 'the message names the scheme')
  })
})

t.test('openDatabase on a file: WAL, synchronous=FULL, busy timeout', async (t) => {
  const file = join(t.testdir({}), 'prefs.sqlite')
  const { db, dialect, description } = openDatabase(file)
  t.after(() => db.destroy())
  t.equal(dialect, 'sqlite')
  t.equal(description, `sqlite ${file}`)

  const journal = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(db)
  t.equal(journal.rows[0].journal_mode, 'wal')
  const sync = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(db)
  t.equal(sync.rows[0].synchronous, 2, 'FULL')
  const busy = await sql<{ timeout: number }>`PRAGMA busy_timeout`.execute(db)
  t.equal(busy.rows[0].timeout, 5000)
})

t.test('openDatabase honours busyTimeoutMs', async (t) => {
  const { db } = openDatabase(join(t.testdir({}), 'prefs.sqlite'), { busyTimeoutMs: 1234 })
  t.after(() => db.destroy())
  const busy = await sql<{ timeout: number }>`PRAGMA busy_timeout`.execute(db)
  t.equal(busy.rows[0].timeout, 1234)
})

t.test('openDatabase accepts sqlite: URLs and :memory:', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'via-url.sqlite')
  const viaUrl = openDatabase(`sqlite:${file}`)
  t.after(() => viaUrl.db.destroy())
  await sql`select 1`.execute(viaUrl.db)
  t.ok(existsSync(file), 'the file named after sqlite: was created')

  const memory = openDatabase(':memory:')
  t.after(() => memory.db.destroy())
  t.equal(memory.description, 'sqlite :memory:')
  const rows = await sql<{ one: number }>`select 1 as one`.execute(memory.db)
  t.same(rows.rows, [{ one: 1 }])
})

t.test('openDatabase creates missing parent directories', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'a', 'b', 'c', 'prefs.sqlite')
  t.notOk(existsSync(join(dir, 'a')))
  const { db } = openDatabase(file)
  t.after(() => db.destroy())
  await migrateToLatest(db)
  t.ok(existsSync(file), 'the database file exists')
})

t.test('migrateToLatest: creates the table and indexes, and is idempotent', async (t) => {
  const file = join(t.testdir({}), 'prefs.sqlite')
  const { db } = openDatabase(file)
  t.after(() => db.destroy())

  const first = await migrateToLatest(db)
  t.equal(first.error, undefined)
  t.same(first.results?.map((r) => [r.migrationName, r.status, r.direction]), MIGRATIONS.map((m) => [m, 'Success', 'Up']))

  const second = await migrateToLatest(db)
  t.equal(second.error, undefined)
  t.same(second.results, [], 'nothing left to run')

  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(db)
  t.ok(tables.rows.some((r) => r.name === 'user_preference'), 'user_preference table exists')

  const columns = await sql<{ name: string, notnull: number, pk: number }>`PRAGMA table_info(user_preference)`.execute(db)
  t.same(columns.rows.map((c) => c.name).sort(),
    ['created_at', 'id', 'key', 'last_updated_at', 'user_id', 'value'])
  t.equal(columns.rows.find((c) => c.name === 'id')?.pk, 1, 'id is the primary key')

  const indexes = await sql<{ name: string, sql: string | null }>`
    select name, sql from sqlite_master where type = 'index' and tbl_name = 'user_preference'`.execute(db)
  const unique = indexes.rows.filter((i) => i.sql !== null && /^create unique index/i.test(i.sql))
  t.equal(unique.length, 1, 'one unique index')
  const uniqueColumns = await sql<{ name: string }>`select name from pragma_index_info(${unique[0]?.name ?? ''}) order by seqno`.execute(db)
  t.same(uniqueColumns.rows.map((c) => c.name), ['user_id', 'key'], 'the unique index is on (user_id, key)')

  // And it holds: the same key twice for a user is refused, for another user accepted.
  const now = new Date().toISOString()
  const row = (userId: number, key: string) =>
    ({ user_id: userId, key, value: '1', created_at: now, last_updated_at: now })
  await db.insertInto('user_preference').values(row(1, 'theme')).execute()
  await db.insertInto('user_preference').values(row(2, 'theme')).execute()
  await db.insertInto('user_preference').values(row(1, 'Theme')).execute()
  await t.rejects(db.insertInto('user_preference').values(row(1, 'theme')).execute(),
    { code: 'SQLITE_CONSTRAINT_UNIQUE' })
})

t.test('the migrate command', async (t) => {
  const file = join(t.testdir({}), 'nested', 'prefs.sqlite')

  const first = await runScript(t, 'server/migrate-command.ts', { DATABASE_URL: file })
  t.equal(first.code, 0, `exit code (stderr: ${first.stderr})`)
  t.match(first.stdout, file, 'names the database')
  t.match(first.stdout, new RegExp(`Success: ${MIGRATION}`))

  const second = await runScript(t, 'server/migrate-command.ts', { DATABASE_URL: file })
  t.equal(second.code, 0, `exit code (stderr: ${second.stderr})`)
  t.match(second.stdout, /up to date/)
  t.notMatch(second.stdout, MIGRATION)

  // The database the command migrated is the one a plugin would use.
  const { db } = openDatabase(file)
  t.after(() => db.destroy())
  const done = await sql<{ name: string }>`select name from user_preference_migration`.execute(db)
  t.same(done.rows.map((r) => r.name), MIGRATIONS)

  const bad = await runScript(t, 'server/migrate-command.ts', { DATABASE_URL: 'mysql://x' })
  t.not(bad.code, 0, 'an unsupported URL fails')
  t.match(bad.stderr, /mysql:\/\//)
})

t.test('loadConfig', async (t) => {
  t.test('defaults', async (t) => {
    t.same(loadConfig({}), {
      host: '127.0.0.1', port: 3000, databaseUrl: '', jwtSecret: undefined, logLevel: 'info', unknownKeys: 'allow'
    })
    t.same(loadConfig({ HOST: '', PORT: '', LOG_LEVEL: '', JWT_SECRET: '', KEYS_FILE: '', UNKNOWN_KEYS: '' }), {
      host: '127.0.0.1', port: 3000, databaseUrl: '', jwtSecret: undefined, logLevel: 'info', unknownKeys: 'allow'
    }, 'empty variables count as unset')
  })

  t.test('values from the environment', async (t) => {
    t.same(loadConfig({
      HOST: '0.0.0.0', PORT: '8080', DATABASE_URL: 'postgres://u@h/db', JWT_SECRET: 's3cret', LOG_LEVEL: 'debug'
    }), {
      host: '0.0.0.0', port: 8080, databaseUrl: 'postgres://u@h/db', jwtSecret: 's3cret', logLevel: 'debug', unknownKeys: 'allow'
    })
    t.equal(loadConfig({ UNKNOWN_KEYS: 'reject' }).unknownKeys, 'reject')
    const keys = loadConfig({ KEYS_FILE: 'examples/keys.json' }).keys
    t.match(keys, { theme: { default: 'system' }, 'tour.*': { schema: { type: 'boolean' } } }, 'KEYS_FILE is read')
    t.equal(loadConfig({ PORT: '0' }).port, 0, 'port 0 (any free port) is allowed')
    t.equal(loadConfig({ PORT: '65535' }).port, 65535)
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      t.equal(loadConfig({ LOG_LEVEL: level }).logLevel, level)
    }
  })

  t.test('errors', async (t) => {
    for (const port of ['70000', '65536', '-1', '1.5', 'abc', '80x']) {
      t.throws(() => loadConfig({ PORT: port }), { code: 'PREFERENCE_INVALID_CONFIG', message: /PORT/ }, `PORT=${port}`)
    }
    for (const level of ['loud', 'INFO ', 'verbose']) {
      t.throws(() => loadConfig({ LOG_LEVEL: level }), { code: 'PREFERENCE_INVALID_CONFIG', message: /LOG_LEVEL/ },
        `LOG_LEVEL=${level}`)
    }
    t.throws(() => loadConfig({ UNKNOWN_KEYS: 'deny' }), { message: /UNKNOWN_KEYS must be "allow" or "reject", got "deny"/ })
    const dir = t.testdir({ 'broken.json': '{"theme": ', 'list.json': '[1]' })
    t.throws(() => loadConfig({ KEYS_FILE: join(dir, 'missing.json') }), { message: /KEYS_FILE ".*missing\.json" cannot be read/ })
    t.throws(() => loadConfig({ KEYS_FILE: join(dir, 'broken.json') }), { message: /KEYS_FILE ".*broken\.json" is not valid JSON/ })
    t.throws(() => loadConfig({ KEYS_FILE: join(dir, 'list.json') }), { message: /KEYS_FILE ".*list\.json" must hold a JSON object/ })
  })
})

t.test('migrations keep to their own schema: same-named tables elsewhere are not theirs', async (t) => {
  // On PostgreSQL both are schemas of one database (Kysely's introspection sees every schema),
  // as when several applications or test runs share a server; on SQLite two files.
  const other = openDatabase(await freshDatabaseUrl(t))
  t.after(() => other.db.destroy())
  await migrateToLatest(other.db)

  const mine = openDatabase(await freshDatabaseUrl(t))
  t.after(() => mine.db.destroy())
  const { results = [] } = await migrateToLatest(mine.db)
  t.same(results.map((r) => [r.migrationName, r.status]), MIGRATIONS.map((m) => [m, 'Success']), 'migrated, though the other schema has its tables')
  await mine.db.insertInto('user_preference').values({
    user_id: 1, key: 'k', value: '1', created_at: '2026-11-28T12:00:00.000Z', last_updated_at: '2026-11-28T12:00:00.000Z'
  }).execute()
  t.equal((await mine.db.selectFrom('user_preference').selectAll().execute()).length, 1)
  t.equal((await other.db.selectFrom('user_preference').selectAll().execute()).length, 0, 'the other one is untouched')
  const again = await migrateToLatest(mine.db)
  t.same(again.results, [], 'and it knows its own migrations were applied')
})
