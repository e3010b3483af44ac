// npm run bench:live [-- --streams=1000] [-- --writes=300] [-- --pg-url=postgres://...] [-- --redis]
// Live delivery on PostgreSQL: real server processes (built, started as `npm start` starts
// them), STREAMS event streams over real sockets, one per user, then writes. Measures the
// memory an idle stream costs the server (RSS and heap after a full GC, before and after
// opening them all, divided by their number) and the delivery latency: from a write's
// response to its event arriving on the stream, p50 and p99. Prints a Markdown table.
// --redis: the servers share the Redis at REDIS_URL (default redis://127.0.0.1:6379), so each
// stream also holds a lease there. Says it skipped, and exits 0, when PostgreSQL does not answer.
import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { freePort } from './free-port.js'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { signTokenWith } from '../server/tokens.js'

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    writes: { type: 'string', default: '300' },
    'concurrent-writes': { type: 'string', default: '1000' },
    writers: { type: 'string', default: '16' },
    'pg-url': { type: 'string', default: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    redis: { type: 'boolean', default: false },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }
  }
})

// The instances: writes go to the first, streams are opened on the last, so every event
// crosses from A to B through LISTEN/NOTIFY.
const INSTANCES = ['A', 'B']

const SECRET = 'bench-live-secret-bench-live-secret'
const STREAMS = Number(args.streams)
const WRITES = Number(args.writes)
const CONCURRENT_WRITES = Number(args['concurrent-writes'])
const WRITERS = Number(args.writers)
/** A write whose event has not arrived after this long counts as lost. */
const EVENT_TIMEOUT_MS = 5000
const root = process.cwd()

interface Server { name: string, url: string, child: ChildProcess }

async function withPgClient (url: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  await client.connect()
  try {
    await fn(client)
  } finally {
    await client.end()
  }
}

function schemaUrl (url: string, schema: string): string {
  const u = new URL(url)
  u.searchParams.set('options', `-c search_path=${schema}`)
  return u.toString()
}

// The servers run with `npm start`'s heap limit, and answer memory questions (bench/memory-probe.mjs).
const SERVER_NODE_FLAGS = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } })
  .scripts.start.match(/--max-old-space-size=\d+/g) ?? []

async function startServer (name: string, databaseUrl: string): Promise<Server> {
  const port = await freePort()
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, '--expose-gc', '--import', './bench/memory-probe.mjs', 'dist/server/main.js'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      REDIS_URL: args.redis ? args['redis-url'] : ''
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server ${name} exited with ${child.exitCode}`)
    try {
      await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })
      return { name, url, child }
    } catch {
      if (Date.now() > deadline) throw new Error(`server ${name}: no answer from ${url}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

async function stop (server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGTERM')
  await exited
}

/** The server's memory after a full GC: RSS and V8 heap used, in bytes. */
async function memoryOf (server: Server): Promise<{ rss: number, heapUsed: number }> {
  return new Promise((resolve) => {
    server.child.once('message', (usage) => resolve(usage as { rss: number, heapUsed: number }))
    server.child.send('memory')
  })
}

/** One open event stream, as a client keeps it: the time each revision arrived. */
interface Stream {
  userId: number
  arrivals: Map<number, number>
  waiters: Map<number, () => void>
  close: () => void
}

// One socket per stream, as one browser tab each.
const streamAgent = new Agent({ keepAlive: false, maxSockets: Infinity })

async function openStream (server: Server, userId: number, token: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}/api/v2/user/${userId}/preference/events/`, {
      agent: streamAgent, headers: { authorization: `Bearer ${token}` }
    }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream of user ${userId}: ${res.statusCode}`))
        res.resume()
        return
      }
      res.setEncoding('utf8')
      const stream: Stream = { userId, arrivals: new Map(), waiters: new Map(), close: () => { req.destroy() } }
      let buffer = ''
      let hello = false
      res.on('data', (chunk: string) => {
        const now = performance.now()
        buffer += chunk
        let at: number
        while ((at = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          if (!hello && block.startsWith('event: hello')) {
            hello = true
            resolve(stream)
          }
          const id = /^id: (\d+)$/m.exec(block)
          if (id === null) continue
          const rev = Number(id[1])
          stream.arrivals.set(rev, now)
          stream.waiters.get(rev)?.()
        }
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** The arrival time of `rev` on `stream`, or undefined when it does not come in time. */
async function arrivalOf (stream: Stream, rev: number): Promise<number | undefined> {
  const known = stream.arrivals.get(rev)
  if (known !== undefined) return known
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stream.waiters.delete(rev)
      resolve(undefined)
    }, EVENT_TIMEOUT_MS)
    stream.waiters.set(rev, () => {
      clearTimeout(timer)
      stream.waiters.delete(rev)
      resolve(stream.arrivals.get(rev))
    })
  })
}

interface Delivery {
  /** Milliseconds from the write's response to the event (0 when the event came first). */
  latencies: number[]
  /** Events that arrived before the write's response did. */
  early: number
  lost: number
  /** Milliseconds from sending each write to its response. */
  responses: number[]
  /** Writes per second over the run. */
  rate: number
}

/** PUT by key for `userId` on `server`; then waits for its revision on the user's stream. */
async function writeAndDeliver (server: Server, stream: Stream, token: string, value: number, delivery: Delivery): Promise<void> {
  const sent = performance.now()
  const res = await fetch(`${server.url}/api/v2/user/${stream.userId}/preference/by-key/bench/`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ value })
  })
  await res.arrayBuffer()
  const answered = performance.now()
  delivery.responses.push(answered - sent)
  if (!res.ok) throw new Error(`write for user ${stream.userId}: ${res.status}`)
  const rev = Number(res.headers.get('preference-revision'))
  const arrived = await arrivalOf(stream, rev)
  if (arrived === undefined) {
    delivery.lost++
    return
  }
  if (arrived < answered) delivery.early++
  delivery.latencies.push(Math.max(0, arrived - answered))
}

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)]

/** `count` writes to random users, `concurrency` at a time. */
async function deliveries (writeServer: Server, streams: Stream[], tokens: string[], count: number, concurrency: number): Promise<Delivery> {
  const delivery: Delivery = { latencies: [], early: 0, lost: 0, responses: [], rate: 0 }
  const started = performance.now()
  let next = 0
  let lostInARow = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const n = next++
      // Distinct users at one time: two writers on one user would only measure its lock.
      const stream = streams[(n * 7919) % streams.length]
      const lostBefore = delivery.lost
      await writeAndDeliver(writeServer, stream, tokens[stream.userId - 1], n, delivery)
      lostInARow = delivery.lost > lostBefore ? lostInARow + 1 : 0
      if (lostInARow >= 3) {
        throw new Error(`three writes on ${writeServer.name} in a row never reached their stream on ${INSTANCES.at(-1)}: ` +
          'is the LISTEN/NOTIFY fan-out between instances there?')
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  delivery.rate = count / ((performance.now() - started) / 1000)
  delivery.latencies.sort((a, b) => a - b)
  delivery.responses.sort((a, b) => a - b)
  return delivery
}

async function main (): Promise<void> {
  const pgUrl = args['pg-url'] as string
  try {
    await withPgClient(pgUrl, async (client) => { await client.query('SELECT 1') })
  } catch (error) {
    process.stdout.write(`Live delivery benchmark SKIPPED: no PostgreSQL at ${pgUrl} (${(error as Error).message})\n`)
    return
  }
  const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' })
  if (build.status !== 0) process.exit(1)

  const schema = `bench_live_${process.pid}_${randomBytes(4).toString('hex')}`
  await withPgClient(pgUrl, async (client) => { await client.query(`CREATE SCHEMA ${schema}`) })
  const servers: Server[] = []
  const streams: Stream[] = []
  try {
    const { db } = openDatabase(schemaUrl(pgUrl, schema))
    await migrateToLatest(db)
    await db.destroy()
    for (const name of INSTANCES) servers.push(await startServer(name, schemaUrl(pgUrl, schema)))
    const writeServer = servers[0]
    const streamServer = servers[servers.length - 1]

    // Each user's own token, signed as `npm run token` signs them.
    const signer = Fastify({ logger: false })
    await signer.register(fastifyJwt, { secret: SECRET })
    await signer.ready()
    const tokens = Array.from({ length: STREAMS }, (_, i) => signTokenWith(signer.jwt, { sub: i + 1 }))
    await signer.close()

    // Warm-up: code paths compiled, pools and caches filled, before the baseline is taken.
    const warm = await Promise.all(Array.from({ length: 20 }, async (_, i) => openStream(streamServer, i + 1, tokens[i])))
    await deliveries(writeServer, warm, tokens, 100, 4)
    for (const stream of warm) stream.close()
    await new Promise((resolve) => setTimeout(resolve, 500))
    const before = await memoryOf(streamServer)

    const started = performance.now()
    for (let first = 0; first < STREAMS; first += 50) {
      const batch = Array.from({ length: Math.min(50, STREAMS - first) }, (_, i) => first + i)
      streams.push(...await Promise.all(batch.map(async (i) => openStream(streamServer, i + 1, tokens[i]))))
    }
    const openSeconds = (performance.now() - started) / 1000
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const after = await memoryOf(streamServer)

    const sequential = await deliveries(writeServer, streams, tokens, WRITES, 1)
    const concurrent = await deliveries(writeServer, streams, tokens, CONCURRENT_WRITES, WRITERS)

    const kb = (bytes: number) => (bytes / STREAMS / 1024).toFixed(1)
    const ms = (value: number) => value.toFixed(1)
    const where = servers.length > 1 ? `writes on ${writeServer.name}, streams on ${streamServer.name}` : 'one instance'
    const rows = [
      ['open streams (one user each)', `${STREAMS}, opened in ${openSeconds.toFixed(1)} s`, ''],
      ['RSS per idle stream', `${kb(after.rss - before.rss)} KB`, '≤ 20 KB'],
      ['V8 heap per idle stream (after GC)', `${kb(after.heapUsed - before.heapUsed)} KB`, '≤ 20 KB'],
      ...([[`one write at a time (${WRITES})`, sequential], [`${WRITERS} writers at once (${CONCURRENT_WRITES})`, concurrent]] as const)
        .flatMap(([label, d]) => [
          [`delivery p50, ${label}`, `${ms(percentile(d.latencies, 50))} ms`, ''],
          [`delivery p99, ${label}`, `${ms(percentile(d.latencies, 99))} ms`, '≤ 50 ms'],
          [`delivery max, ${label}`, `${ms(d.latencies.at(-1) ?? NaN)} ms; ${d.early} before the response, ${d.lost} lost`, ''],
          [`write response p50 / p99, ${label}`, `${ms(percentile(d.responses, 50))} / ${ms(percentile(d.responses, 99))} ms (${Math.round(d.rate)} writes/s)`, '']
        ])
    ]
    process.stdout.write([
      '',
      `Live delivery, PostgreSQL, ${where}${args.redis ? ', stream slots in Redis' : ''} (${new Date().toISOString().slice(0, 10)}, Node ${process.version})`,
      '',
      '| measure | result | goal |',
      '|---|---|---|',
      ...rows.map((row) => `| ${row.join(' | ')} |`),
      ''
    ].join('\n') + '\n')
  } finally {
    for (const stream of streams) stream.close()
    for (const server of servers) await stop(server)
    await withPgClient(pgUrl, async (client) => { await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) })
  }
}

await main()
