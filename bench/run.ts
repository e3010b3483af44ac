// npm run bench [-- --quick] [-- --scale] [-- --only=get-one,list-100] [-- --pg [--pg-url=postgres://...]]
// Measures the plugin's standalone server and the hand-written baseline (bench/baseline.ts)
// in one run, scenario by scenario, alternating which goes first, on identically seeded
// SQLite files. Beside them: the same baseline with synchronous=OFF (the no-durability
// ceiling, write scenarios only) and bare Fastify answering a fixed body (bench/ceiling.ts,
// the framework's ceiling). The write scenarios run at 1 connection too (`create@1`...).
// Prints a table and writes bench/results.json.
// --pg: the same on PostgreSQL (the plugin against bench/baseline-pg.ts), each on a fresh,
// identically seeded schema that is dropped afterwards; writes bench/results-pg.json, and
// says it skipped when no server answers at --pg-url (default TEST_DATABASE_URL or
// postgres://postgres@127.0.0.1:5432/test).
// --cpu-prof: both servers run with node --cpu-prof; the profiles are written to
// bench/profiles/<server>/ when they stop (summarise one with `npx tsx bench/profile-top.ts <file>`).
// --heap-prof: both servers sample their allocations (bench/heap-sampler.mjs), written to the same
// place and read by the same script.
import autocannon from 'autocannon'
import SQLite from 'better-sqlite3'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { freePort } from './free-port.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { signToken } from '../server/tokens.js'
import { EFFECTIVE_DEFAULTS, EFFECTIVE_GROUPS, EFFECTIVE_KEYS, EFFECTIVE_USER, EFFECTIVE_USER_ROWS } from './effective-data.js'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    only: { type: 'string' },
    pg: { type: 'boolean', default: false },
    'pg-url': { type: 'string', default: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    connections: { type: 'string', default: '32' },
    'cpu-prof': { type: 'boolean', default: false },
    'heap-prof': { type: 'boolean', default: false }
  }
})

const SECRET = 'bench-secret-bench-secret-bench-secret'
const CONNECTIONS = Number(args.connections)
const DURATION = args.quick ? 3 : 10
const WARMUP = args.quick ? 1 : 2
const OWNER_ROWS = 200 // user 1: the reads
// Writes are spread over many users, each signed in as itself, as an app's traffic is: a
// thousand writers (patch, PUT by key) with WRITER_ROWS keys each, a thousand creators and a
// thousand deleters. Aimed at one user, every write would wait for the one before it.
const USERS = 1000
const WRITER_ROWS = 20
const WRITER_BASE = 10_000
const DELETER_BASE = 20_000
const CREATOR_BASE = 100_000
// create-one-user: every create for this one user, so the plugin's per-user quota is raised
// for the bench (MAX_PREFERENCES_PER_USER) where the baseline has none.
const ONE_USER = 400_000
const ONE_USER_LIMIT = '100000000'
// Rows to delete, spread over the deleters: more than the fastest server deletes in a
// scenario's warm-up and two halves (about 10,000/s here); running out would show as 404s.
const DELETE_ROWS = args.quick ? 60_000 : 200_000
// Ids as seeded, in this order: user 1's rows, the deleters', the writers'.
const FIRST_DELETE_ID = OWNER_ROWS + 1
const firstWriterId = (deleteRows: number) => OWNER_ROWS + deleteRows + 1
const root = process.cwd()

interface Measurement {
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
  /** The server's CPU time (user + system) per completed request, in microseconds. */
  cpuUs: number
  requests: number
  seconds: number
  cpuTotalUs: number
}

/** Two halves of one server's run as one: totals added, latency percentiles averaged. */
function combine (a: Measurement, b: Measurement): Measurement {
  const requests = a.requests + b.requests
  const seconds = a.seconds + b.seconds
  const cpuTotalUs = a.cpuTotalUs + b.cpuTotalUs
  return {
    rps: Math.round(requests / seconds),
    p50: Math.round((a.p50 + b.p50) / 2),
    p99: Math.round((a.p99 + b.p99) / 2),
    non2xx: a.non2xx + b.non2xx,
    errors: a.errors + b.errors,
    cpuUs: Math.round(cpuTotalUs / Math.max(requests, 1)),
    requests,
    seconds,
    cpuTotalUs
  }
}

/** The plugin, the baseline (synchronous=FULL), the baseline with synchronous=OFF, bare Fastify. */
type ServerName = 'plugin' | 'baseline' | 'baseline-off' | 'ceiling'

interface Server {
  name: ServerName
  url: string
  child: ChildProcess
}

/** The plugin's schema, then rows inserted directly: the same data for both servers. */
async function seed (file: string, extraUsers: number, rowsPerExtraUser: number, deleteRows = DELETE_ROWS, writers = USERS): Promise<void> {
  const { db } = openDatabase(file)
  await migrateToLatest(db)
  await db.destroy()
  const sqlite = new SQLite(file)
  const insert = sqlite.prepare('INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at) VALUES (?, ?, ?, ?, ?)')
  const now = new Date().toISOString()
  const insertDefault = sqlite.prepare('INSERT INTO preference_default (scope, key, value, locked, last_updated_at) VALUES (?, ?, ?, ?, ?)')
  sqlite.transaction(() => {
    for (let i = 0; i < OWNER_ROWS; i++) insert.run(1, `k${i}`, JSON.stringify({ mode: 'dark', i, tags: ['a', 'b'] }), now, now)
    for (let i = 0; i < deleteRows; i++) insert.run(DELETER_BASE + i % USERS, `d${i}`, '1', now, now)
    for (let u = 0; u < writers; u++) {
      for (let i = 0; i < WRITER_ROWS; i++) insert.run(WRITER_BASE + u, `k${i}`, JSON.stringify({ mode: 'dark', i, tags: ['a', 'b'] }), now, now)
    }
    for (let u = 0; u < extraUsers; u++) {
      for (let i = 0; i < rowsPerExtraUser; i++) insert.run(1_000_000 + u, `k${i}`, JSON.stringify({ i }), now, now)
    }
    // After the rows above, whose ids the scenarios name.
    for (const [key, value] of EFFECTIVE_USER_ROWS) insert.run(EFFECTIVE_USER, key, value, now, now)
    for (const [scope, key, value, locked] of EFFECTIVE_DEFAULTS) insertDefault.run(scope, key, value, locked, now)
    sqlite.exec(REVISION_ROWS)
  })()
  sqlite.close()
}

// Rows written through the plugin come with their user's revision row (the migrations give
// one to every user who holds preferences): the seed, which inserts directly, adds them too.
const REVISION_ROWS = `INSERT INTO user_revision (user_id, rev, floor, preference_count)
  SELECT user_id, 0, 0, count(*) FROM user_preference GROUP BY user_id`

/** A URL reaching `schema` of the database at `url` (through search_path). */
function schemaUrl (url: string, schema: string): string {
  const u = new URL(url)
  u.searchParams.set('options', `-c search_path=${schema}`)
  return u.toString()
}

/** Runs `fn` on a connection of its own to `url`, closed afterwards. */
async function withPgClient (url: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await fn(client)
  } finally {
    await client.end()
  }
}

/** The same data as seed(), in a new PostgreSQL schema: the plugin's migrations, then bulk inserts. */
async function seedPg (url: string, schema: string): Promise<void> {
  await withPgClient(url, async (admin) => { await admin.query(`CREATE SCHEMA ${schema}`) })
  const { db } = openDatabase(schemaUrl(url, schema))
  await migrateToLatest(db)
  await db.destroy()
  await withPgClient(schemaUrl(url, schema), async (client) => {
    const now = new Date().toISOString()
    // Explicit ids, as SQLite hands them out (1..200 for user 1, then user 2's), then the
    // identity sequence moved past them so that creates continue from there.
    await client.query(`INSERT INTO user_preference (id, user_id, key, value, created_at, last_updated_at)
      SELECT i + 1, 1, 'k' || i, '{"mode":"dark","i":' || i || ',"tags":["a","b"]}', $1, $1 FROM generate_series(0, $2::int - 1) AS i`,
    [now, OWNER_ROWS])
    await client.query(`INSERT INTO user_preference (id, user_id, key, value, created_at, last_updated_at)
      SELECT $2::int + i, $4::int + i % $5::int, 'd' || i, '1', $1, $1 FROM generate_series(0, $3::int - 1) AS i`,
    [now, FIRST_DELETE_ID, DELETE_ROWS, DELETER_BASE, USERS])
    await client.query(`INSERT INTO user_preference (id, user_id, key, value, created_at, last_updated_at)
      SELECT $2::int + u * $5::int + i, $4::int + u, 'k' || i, '{"mode":"dark","i":' || i || ',"tags":["a","b"]}', $1, $1
      FROM generate_series(0, $3::int - 1) AS u, generate_series(0, $5::int - 1) AS i`,
    [now, firstWriterId(DELETE_ROWS), USERS, WRITER_BASE, WRITER_ROWS])
    await client.query("SELECT setval(pg_get_serial_sequence('user_preference', 'id'), (SELECT max(id) FROM user_preference))")
    for (const [key, value] of EFFECTIVE_USER_ROWS) {
      await client.query('INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at) VALUES ($1, $2, $3, $4, $4)', [EFFECTIVE_USER, key, value, now])
    }
    for (const [scope, key, value, locked] of EFFECTIVE_DEFAULTS) {
      await client.query('INSERT INTO preference_default (scope, key, value, locked, last_updated_at) VALUES ($1, $2, $3, $4, $5)', [scope, key, value, locked, now])
    }
    await client.query(REVISION_ROWS)
    await client.query('ANALYZE user_preference')
    await client.query('ANALYZE user_revision')
  })
}

async function waitForHttp (url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) })
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  throw new Error(`no answer from ${url}`)
}

/**
 * Both servers run with the heap limit `npm start` sets (read from package.json, so the two
 * cannot drift apart): under it V8 grows the heap by a smaller factor after each full
 * collection than under its default of several GB.
 */
const SERVER_NODE_FLAGS = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } })
  .scripts.start.match(/--max-(old|semi)-space-size=\d+/g) ?? []

async function startServer (name: ServerName, databaseUrl: string, script = 'bench/baseline.ts', env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort()
  // The plugin runs as `npm start` runs it (built JavaScript); the baseline from its source.
  // One directory per server: tsx's loader thread writes a profile of its own.
  const dir = join(root, 'bench', 'profiles', name)
  const profile = [
    ...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []),
    ...(args['heap-prof'] ? ['--import', './bench/heap-sampler.mjs'] : [])
  ]
  const argv = [...profile, ...SERVER_NODE_FLAGS, ...(name === 'plugin' ? ['dist/server/main.js'] : ['--import', 'tsx', script])]
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, ...env, HEAP_PROFILE_DIR: dir, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, JWT_SECRET: SECRET, LOG_LEVEL: 'warn', KEYS_FILE: keysFile },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/api/v2/user/me/preference/`, child)
  return { name, url, child }
}

/** Peak resident set size of a process so far, in MB (Linux). */
function peakRssMb (pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round(kb / 1024)
}

type RequestOptions = Partial<autocannon.Options> & { path?: string }

interface Scenario {
  name: string
  warmup: boolean
  /** A write: the synchronous=OFF baseline runs it too. */
  write?: boolean
  /** autocannon connections (default --connections). */
  connections?: number
  /** Where the write counter starts (so that a variant does not repeat another's creates). */
  counterStart?: number
  /** Requests for one run; `counter` keeps writes unique across runs. */
  options: (counter: { n: number }) => RequestOptions
}

const userToken = await signToken(SECRET, { sub: 1 })
const effectiveToken = await signToken(SECRET, { sub: EFFECTIVE_USER, groups: EFFECTIVE_GROUPS })
const adminToken = await signToken(SECRET, { sub: 99, admin: true })
/** Each writing user's own token. */
const tokensOf = async (base: number) => Promise.all(Array.from({ length: USERS }, async (_, u) => signToken(SECRET, { sub: base + u })))
const tokens = {
  writer: await tokensOf(WRITER_BASE),
  deleter: await tokensOf(DELETER_BASE),
  creator: await tokensOf(CREATOR_BASE),
  oneUser: await signToken(SECRET, { sub: ONE_USER })
}
const json = { 'content-type': 'application/json' }

/** A request whose path and body change every time (writes must not repeat). */
function dynamic (method: NonNullable<autocannon.Request['method']>, next: () => { path: string, token: string, body?: string }): RequestOptions {
  return {
    requests: [{
      method,
      setupRequest: (request: autocannon.Request) => {
        const { path, token, body } = next()
        return {
          ...request,
          method,
          path,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined && json) },
          ...(body !== undefined && { body })
        }
      }
    }]
  }
}

// One import document of 1,000 keys, sent to a new user each time.
/** The n-th write of a writers' scenario: writer u, its key i. */
function nextWriter (counter: { n: number }): { n: number, u: number, i: number } {
  const n = counter.n++
  return { n, u: n % USERS, i: Math.floor(n / USERS) % WRITER_ROWS }
}

const IMPORT_BODY = JSON.stringify({
  preferences: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`imp.${i}`, { theme: 'dark', i, tags: ['a', 'b'] }]))
})

const scenarios: Scenario[] = [
  {
    name: 'create',
    write: true,
    // Warmed up like the reads: as the first scenario it otherwise also timed each server's
    // JIT compiling its code, which weighs more for the server with more code on the path.
    warmup: true,
    options: (counter) => dynamic('POST', () => {
      const n = counter.n++
      const u = n % USERS
      return {
        path: `/api/v2/user/${CREATOR_BASE + u}/preference/`,
        token: tokens.creator[u],
        body: JSON.stringify({ key: `c${n}`, value: { theme: 'dark', n } })
      }
    })
  },
  {
    name: 'create-one-user',
    write: true,
    warmup: true,
    // All creates for one user: each waits for the one before it on the user's revision row.
    options: (counter) => dynamic('POST', () => ({
      path: `/api/v2/user/${ONE_USER}/preference/`,
      token: tokens.oneUser,
      body: JSON.stringify({ key: `o${counter.n++}`, value: { theme: 'dark' } })
    }))
  },
  {
    name: 'get-one',
    warmup: true,
    options: () => ({ path: '/api/v2/user/1/preference/6/', headers: { authorization: `Bearer ${userToken}` } })
  },
  {
    name: 'get-by-key',
    warmup: true,
    options: () => ({ path: '/api/v2/user/1/preference/by-key/k5/', headers: { authorization: `Bearer ${userToken}` } })
  },
  {
    name: 'list-20-key',
    warmup: true,
    options: () => ({ path: '/api/v2/user/1/preference/?key=k5&limit=20', headers: { authorization: `Bearer ${userToken}` } })
  },
  {
    name: 'list-100',
    warmup: true,
    options: () => ({ path: '/api/v2/user/1/preference/?limit=100', headers: { authorization: `Bearer ${userToken}` } })
  },
  {
    name: 'effective',
    warmup: true,
    options: () => ({ path: `/api/v2/user/${EFFECTIVE_USER}/preference/effective/`, headers: { authorization: `Bearer ${effectiveToken}` } })
  },
  {
    name: 'patch',
    write: true,
    warmup: true,
    // Each request a writer's next key, round the thousand writers.
    options: (counter) => dynamic('PATCH', () => {
      const { n, u, i } = nextWriter(counter)
      return {
        path: `/api/v2/user/${WRITER_BASE + u}/preference/${firstWriterId(DELETE_ROWS) + u * WRITER_ROWS + i}/`,
        token: tokens.writer[u],
        body: JSON.stringify({ value: { mode: 'light', n } })
      }
    })
  },
  {
    name: 'put-by-key',
    write: true,
    warmup: true,
    // Replaces the value of a stored key (an update, as most PUTs by key are).
    options: (counter) => dynamic('PUT', () => {
      const { n, u, i } = nextWriter(counter)
      return { path: `/api/v2/user/${WRITER_BASE + u}/preference/by-key/k${i}/`, token: tokens.writer[u], body: JSON.stringify({ value: { mode: 'light', n } }) }
    })
  },
  {
    name: 'put-new-key',
    write: true,
    warmup: true,
    // A key saved for the first time: PUT by key of a key not stored yet, over the creators.
    options: (counter) => dynamic('PUT', () => {
      const n = counter.n++
      const u = n % USERS
      return { path: `/api/v2/user/${CREATOR_BASE + u}/preference/by-key/p${n}/`, token: tokens.creator[u], body: JSON.stringify({ value: { mode: 'light', n } }) }
    })
  },
  {
    name: 'import-1000',
    write: true,
    warmup: true,
    // A user each time (from 300,000 up): every import creates its 1,000 rows in one transaction.
    // 4 connections, not 32: each request is a large transaction that the database runs one
    // (SQLite) or a few at a time, and with 32 queued a request outlasted a --quick half.
    options: (counter) => ({
      ...dynamic('POST', () => ({
        path: `/api/v2/user/${300_000 + counter.n++}/preference/import/`,
        token: adminToken,
        body: IMPORT_BODY
      })),
      connections: 4
    })
  },
  {
    name: 'delete',
    write: true,
    // Timed like the others: as a fixed number of requests (all the seeded rows), each half
    // lasted under two seconds on PostgreSQL and its ratio moved between 0.73 and 1.00.
    warmup: true,
    options: (counter) => dynamic('DELETE', () => {
      const n = counter.n++
      const u = n % USERS
      return { path: `/api/v2/user/${DELETER_BASE + u}/preference/${FIRST_DELETE_ID + n}/`, token: tokens.deleter[u] }
    })
  }
]

// The writes that batch on SQLite, also with one connection: group commit must not slow a
// lone client down.
for (const name of ['create', 'patch', 'put-by-key']) {
  const scenario = scenarios.find((s) => s.name === name) as Scenario
  scenarios.splice(scenarios.indexOf(scenario) + 1, 0, { ...scenario, name: `${name}@1`, connections: 1, counterStart: 50_000_000 })
}

/**
 * CPU time a process has used so far, in microseconds (Linux). Unlike requests/s on a shared
 * machine, CPU per request does not depend on what else runs, so it shows a layer's cost.
 */
function cpuTimeUs (pid: number | undefined): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1e6 / CLOCK_TICKS
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

async function measure (server: Server, scenario: Scenario, counter: { n: number }, duration: number): Promise<Measurement> {
  const { path, ...options } = scenario.options(counter)
  const cpuBefore = cpuTimeUs(server.child.pid)
  // autocannon takes a fixed path from the URL, not from `path`.
  const result = await autocannon({
    url: server.url + (path ?? ''),
    connections: scenario.connections ?? CONNECTIONS,
    duration,
    // autocannon ends a run at its first sample tick (1 s by default) after the duration:
    // finer ticks end each run closer to it.
    sampleInt: 50,
    ...options
  })
  if (result.non2xx > 0) {
    process.stderr.write(`  ${server.name} ${scenario.name}: non-2xx answers ${JSON.stringify(result.statusCodeStats)}\n`)
  }
  // Completed requests over the run's real duration (autocannon's average is per-second samples).
  const seconds = (result.finish.getTime() - result.start.getTime()) / 1000
  const cpuTotalUs = cpuTimeUs(server.child.pid) - cpuBefore
  return {
    rps: Math.round(result.requests.total / seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuUs: Math.round(cpuTotalUs / Math.max(result.requests.total, 1)),
    requests: result.requests.total,
    seconds,
    cpuTotalUs
  }
}

async function compare (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'prefs-bench-'))
  try {
    const files = { plugin: join(dir, 'plugin.sqlite'), baseline: join(dir, 'baseline.sqlite'), off: join(dir, 'baseline-off.sqlite') }
    for (const file of Object.values(files)) await seed(file, 0, 0)
    const servers = {
      plugin: await startServer('plugin', files.plugin, undefined, { MAX_PREFERENCES_PER_USER: ONE_USER_LIMIT }),
      baseline: await startServer('baseline', files.baseline),
      'baseline-off': await startServer('baseline-off', files.off, 'bench/baseline.ts', { SQLITE_SYNCHRONOUS: 'OFF' }),
      ceiling: await startServer('ceiling', '', 'bench/ceiling.ts')
    }
    await runScenarios(servers, 'sqlite', 'results.json')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** compare() on PostgreSQL: a fresh schema for each server, dropped afterwards. */
async function comparePg (url: string): Promise<void> {
  const tag = `${process.pid}_${Date.now()}`
  const schemas = { plugin: `bench_plugin_${tag}`, baseline: `bench_baseline_${tag}` }
  try {
    await seedPg(url, schemas.plugin)
    await seedPg(url, schemas.baseline)
    const servers = {
      plugin: await startServer('plugin', schemaUrl(url, schemas.plugin), undefined, { MAX_PREFERENCES_PER_USER: ONE_USER_LIMIT }),
      baseline: await startServer('baseline', schemaUrl(url, schemas.baseline), 'bench/baseline-pg.ts'),
      ceiling: await startServer('ceiling', '', 'bench/ceiling.ts')
    }
    // Both tables vacuumed before each scenario: otherwise autovacuum ran whenever one of them
    // crossed its threshold, which could land on one server's half of a scenario only.
    const vacuum = () => withPgClient(url, async (admin) => {
      for (const schema of Object.values(schemas)) await admin.query(`VACUUM ANALYZE ${schema}.user_preference`)
    })
    await runScenarios(servers, 'postgres', 'results-pg.json', vacuum)
  } finally {
    await withPgClient(url, async (admin) => {
      for (const schema of Object.values(schemas)) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    })
  }
}

/** Stops a server and waits until it has exited (its connections closed). */
async function stop (server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGTERM')
  await exited
}

async function runScenarios (
  servers: { plugin: Server, baseline: Server } & Partial<Record<ServerName, Server>>, backend: 'sqlite' | 'postgres',
  resultsFile: string, beforeScenario?: () => Promise<void>
): Promise<void> {
  // `--only=create` selects create and create@1.
  const only = args.only?.split(',')
  const selected = only === undefined ? scenarios : scenarios.filter((s) => only.includes(s.name) || only.includes(s.name.split('@')[0]))
  const all = Object.values(servers) as Server[]
  const rows: Array<Record<string, unknown>> = []
  try {
    for (const [i, scenario] of selected.entries()) {
      // Skip a route the plugin does not have (yet).
      const probe = scenario.options({ n: 0 })
      if (probe.path !== undefined && (probe.method ?? 'GET') === 'GET') {
        const res = await fetch(servers.plugin.url + probe.path, { headers: probe.headers as Record<string, string> })
        if (res.status === 404) {
          process.stdout.write(`skipping ${scenario.name}: the plugin has no such route\n`)
          continue
        }
      }
      // The synchronous=OFF baseline only where the disk matters: the writes.
      const running = all.filter((server) => server.name !== 'baseline-off' || scenario.write === true)
      // Each server runs twice, for half the time each, in the order A B C C B A: whatever
      // drifts during a scenario (the shared machine's load, the database's caches,
      // autovacuum) weighs on all alike. Which server is A rotates from one scenario to the next.
      const shift = i % running.length
      const order = [...running.slice(shift), ...running.slice(0, shift)]
      const halves = new Map<Server, Measurement[]>(running.map((server) => [server, []]))
      await beforeScenario?.()
      // Each server's writes in this scenario start from the same place.
      const counters = new Map<Server, { n: number }>(running.map((server) => [server, { n: scenario.counterStart ?? 0 }]))
      for (const server of [...order, ...[...order].reverse()]) {
        const measured = halves.get(server) as Measurement[]
        const counter = counters.get(server) as { n: number }
        if (scenario.warmup && measured.length === 0) await measure(server, scenario, counter, WARMUP)
        measured.push(await measure(server, scenario, counter, DURATION / 2))
      }
      const result = (server: Server | undefined) => {
        const measured = server === undefined ? undefined : halves.get(server)
        return measured === undefined ? undefined : combine(measured[0], measured[1])
      }
      const p = result(servers.plugin) as Measurement
      const b = result(servers.baseline) as Measurement
      const off = result(servers['baseline-off'])
      const ceiling = result(servers.ceiling)
      const ratio = (other: Measurement | undefined) => other === undefined ? null : Number((p.rps / other.rps).toFixed(2))
      rows.push({
        scenario: scenario.name,
        connections: scenario.connections ?? CONNECTIONS,
        plugin_rps: p.rps,
        baseline_rps: b.rps,
        ratio: ratio(b),
        baseline_off_rps: off?.rps ?? null,
        ratio_off: ratio(off),
        ceiling_rps: ceiling?.rps ?? null,
        ratio_ceiling: ratio(ceiling),
        plugin_p50_ms: p.p50,
        plugin_p99_ms: p.p99,
        baseline_p50_ms: b.p50,
        baseline_p99_ms: b.p99,
        plugin_cpu_us_per_req: p.cpuUs,
        baseline_cpu_us_per_req: b.cpuUs,
        baseline_off_cpu_us_per_req: off?.cpuUs ?? null,
        ceiling_cpu_us_per_req: ceiling?.cpuUs ?? null,
        plugin_non2xx: p.non2xx + p.errors,
        baseline_non2xx: b.non2xx + b.errors,
        // Peak so far: shows the scenario where a server's peak was reached.
        plugin_peak_rss_mb: peakRssMb(servers.plugin.child.pid),
        baseline_peak_rss_mb: peakRssMb(servers.baseline.child.pid)
      })
      process.stdout.write(`${scenario.name} (${scenario.connections ?? CONNECTIONS} conn): plugin ${p.rps}/s, baseline ${b.rps}/s, ratio ${(p.rps / b.rps).toFixed(2)}` +
        (off === undefined ? '' : `; baseline OFF ${off.rps}/s, ratio ${ratio(off)}`) +
        (ceiling === undefined ? '' : `; framework ceiling ${ceiling.rps}/s, ratio ${ratio(ceiling)}`) +
        `; CPU per request: plugin ${p.cpuUs} µs, baseline ${b.cpuUs} µs\n`)
    }
    const rss = { plugin: peakRssMb(servers.plugin.child.pid), baseline: peakRssMb(servers.baseline.child.pid) }
    console.table(rows)
    process.stdout.write(`peak RSS: plugin ${rss.plugin} MB, baseline ${rss.baseline} MB\n`)
    writeFileSync(join(root, 'bench', resultsFile), JSON.stringify({
      date: new Date().toISOString(),
      node: process.version,
      backend,
      connections: CONNECTIONS,
      durationSeconds: DURATION,
      quick: args.quick,
      scenarios: rows,
      peakRssMb: rss
    }, null, 2) + '\n')
  } finally {
    for (const server of all) await stop(server)
  }
}

/** p99 of GET one and a list page with 1,000 rows in the table, then with 1,000,000. */
async function scale (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'prefs-bench-scale-'))
  const report: Record<string, unknown> = {}
  try {
    // 1,000 rows: user 1's 200 and 4 × 200; 1,000,200 rows: user 1's 200 and 20,000 × 50.
    const sizes = { small: [4, 200], large: [20_000, 50] } as const
    const measured: Record<string, Record<string, Measurement>> = {}
    for (const [label, [users, perUser]] of Object.entries(sizes)) {
      const file = join(dir, `${label}.sqlite`)
      await seed(file, users, perUser, 0, 0)
      const server = await startServer('plugin', file)
      try {
        measured[label] = {}
        for (const name of ['get-one', 'list-100']) {
          const scenario = scenarios.find((s) => s.name === name) as Scenario
          await measure(server, scenario, { n: 0 }, WARMUP)
          measured[label][name] = await measure(server, scenario, { n: 0 }, DURATION)
        }
      } finally {
        server.child.kill('SIGTERM')
      }
    }
    for (const name of ['get-one', 'list-100']) {
      const small = measured.small[name]
      const large = measured.large[name]
      report[name] = { p99_small_ms: small.p99, p99_large_ms: large.p99, ratio: Number((large.p99 / Math.max(small.p99, 1)).toFixed(2)), rps_small: small.rps, rps_large: large.rps }
    }
    console.table(report)
    writeFileSync(join(root, 'bench', 'scale-results.json'), JSON.stringify({ date: new Date().toISOString(), rows: { small: 1000, large: 1_000_200 }, report }, null, 2) + '\n')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Whether a PostgreSQL server answers at `url`; the reason when it does not. */
async function pgReachable (url: string): Promise<true | string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch (error) {
    return (error as Error).message
  } finally {
    await client.end().catch(() => {})
  }
}

if (args.pg) {
  const url = args['pg-url'] as string
  const reachable = await pgReachable(url)
  if (reachable !== true) {
    process.stdout.write(`PostgreSQL benchmark SKIPPED: no server at ${url} (${reachable})\n`)
    process.exit(0)
  }
}

// The registry both servers load (the plugin through KEYS_FILE, the baseline reads the same file).
const keysDir = mkdtempSync(join(tmpdir(), 'prefs-bench-keys-'))
const keysFile = join(keysDir, 'keys.json')
writeFileSync(keysFile, JSON.stringify(EFFECTIVE_KEYS))
process.on('exit', () => { rmSync(keysDir, { recursive: true, force: true }) })

const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' })
if (build.status !== 0) process.exit(1)

if (args.pg) await comparePg(args['pg-url'] as string)
else if (args.scale) await scale()
else await compare()
