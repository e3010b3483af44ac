import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { CHANNEL_SQL, LISTEN_APPLICATION_NAME, listenForRevisions, othersListen, type RevisionNotice } from '../db/change-notify.js'
import { openDatabase } from '../db/connect.js'
import preferences, { createPreferenceStore } from '../index.js'
import { ChangeBus } from '../store/change-bus.js'
import { PgFanout } from '../store/pg-fanout.js'
import { childEnv } from './child-env.js'
import { BACKEND, freshDatabaseUrl, PG_URL, PREFIX, SECRET, token } from './helper.js'

// Several instances on one PostgreSQL: real server processes on one schema, each on its own
// port, a stream read over a real socket, and the listening connection killed from outside.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const WAIT = 30_000
const PG_ONLY = BACKEND !== 'postgres' && 'PostgreSQL only: LISTEN/NOTIFY (SQLite serves one process)'

/** The schema a freshDatabaseUrl reaches (its search_path). */
const schemaOf = (url: string): string => (new URL(url).searchParams.get('options') ?? '').replace(/^-c search_path=/, '')

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it gives something other than undefined; fails after WAIT. */
async function eventually<T> (what: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`no ${what} within ${WAIT} ms`)
    await sleep(50)
  }
}

async function query<R extends pg.QueryResultRow> (text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

interface LogLine { msg?: string, pid?: number, level?: number }

class Server {
  private output = ''
  readonly exited: Promise<void>
  base = ''

  constructor (readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { this.output += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { this.output += chunk })
    this.exited = new Promise((resolve) => child.once('close', () => resolve()))
  }

  /** The server's JSON log lines so far. */
  get log (): LogLine[] {
    return this.output.split('\n').flatMap((line) => {
      try { return [JSON.parse(line) as LogLine] } catch { return [] }
    })
  }

  /** The backend pids its listening connection had, in order. */
  get listenPids (): number[] {
    return this.log.filter((l) => l.msg?.startsWith('preferences: listening for changes') === true).map((l) => l.pid as number)
  }

  async waitFor<T> (what: string, check: () => T | undefined): Promise<T> {
    return eventually(what, () => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`the server exited\n${this.output}`)
      return check()
    }).catch((error: Error) => { throw new Error(`${error.message}\n${this.output.slice(-4000)}`) })
  }
}

/** server/main.ts on a free port; killed when the test ends. */
async function startServer (t: Test, database: string): Promise<Server> {
  const server = new Server(spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: childEnv({ PORT: '0', DATABASE_URL: database, JWT_SECRET: SECRET, LOG_LEVEL: 'info' }),
    stdio: ['pipe', 'pipe', 'pipe']
  }))
  t.after(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
    await server.exited
  })
  server.base = await server.waitFor('"Server listening"', () =>
    server.log.map((l) => /^Server listening at (http:\/\/127\.0\.0\.1:\d+)$/.exec(l.msg ?? '')?.[1]).find((b) => b !== undefined))
  await server.waitFor('listening connection', () => server.listenPids[0])
  return server
}

interface ServerEvent { event?: string, id?: string, data?: string, comment?: string }

interface Stream {
  /** The next event that is not a comment. */
  next: () => Promise<ServerEvent>
  close: () => void
}

/** An event stream read with node:http, as a browser's EventSource would. */
async function openStream (t: Test, base: string, userId: number): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${PREFIX}/user/${userId}/preference/events/`, { headers: { authorization: `Bearer ${token(userId)}` } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream: ${res.statusCode}`))
        return
      }
      res.setEncoding('utf8')
      const queue: ServerEvent[] = []
      let wake: (() => void) | undefined
      let buffer = ''
      res.on('data', (chunk: string) => {
        buffer += chunk
        let at: number
        while ((at = buffer.indexOf('\n\n')) !== -1) {
          const event: ServerEvent = {}
          for (const line of buffer.slice(0, at).split('\n')) {
            const colon = line.indexOf(':')
            if (colon === 0) event.comment = line.slice(1).trim()
            else event[line.slice(0, colon) as 'event' | 'id' | 'data'] = line.slice(colon + 1).trimStart()
          }
          buffer = buffer.slice(at + 2)
          if (event.comment === undefined) queue.push(event)
        }
        wake?.()
      })
      const stream: Stream = {
        next: async () => {
          const deadline = Date.now() + WAIT
          while (queue.length === 0) {
            if (Date.now() > deadline) throw new Error(`no event within ${WAIT} ms`)
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 250)
              wake = () => { clearTimeout(timer); resolve() }
            })
          }
          return queue.shift() as ServerEvent
        },
        close: () => { req.destroy() }
      }
      t.after(() => stream.close())
      resolve(stream)
    })
    req.on('error', reject)
    req.end()
  })
}

/** PUT by key through `base`; the revision it answered. */
async function put (base: string, userId: number, key: string, value: unknown): Promise<number> {
  const res = await fetch(`${base}${PREFIX}/user/${userId}/preference/by-key/${key}/`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token(userId)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
    signal: AbortSignal.timeout(WAIT)
  })
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${key}: ${res.status} ${await res.text()}`)
  await res.arrayBuffer()
  return Number(res.headers.get('preference-revision'))
}

t.test('two server processes on one schema: a write through A reaches B\'s stream, also after B\'s listening connection is killed', { skip: PG_ONLY }, async (t) => {
  const database = await freshDatabaseUrl(t)
  const a = await startServer(t, database)
  const b = await startServer(t, database)
  const [pid] = b.listenPids
  const [backend] = await query<{ application_name: string, query: string }>('select application_name, query from pg_stat_activity where pid = $1', [pid])
  t.equal(backend?.application_name, LISTEN_APPLICATION_NAME, 'B\'s listening connection names itself')
  t.match(backend?.query, /^LISTEN "preferences_\d+"$/, 'and listens on the schema\'s channel')

  const stream = await openStream(t, b.base, 1)
  t.same(await stream.next(), { event: 'hello', data: '{"rev":0}' })

  // Which value each revision set, as the writer was answered.
  const wrote = new Map<number, string>()
  const write = async (server: Server, value: string) => { wrote.set(await put(server.base, 1, 'theme', value), value) }
  await write(a, 'through A')
  const first = await stream.next()
  t.match(first, { event: 'change', id: '1' }, 'a write through A reaches the stream on B')
  t.same(JSON.parse(first.data as string).changes.map((c: { value: unknown }) => c.value), ['through A'], 'with its data, from the log')
  await write(b, 'through B')
  t.match(await stream.next(), { event: 'change', id: '2' }, 'a write through B itself arrives once')

  // B is paused while its listening connection is killed and A writes on: every one of these
  // revisions is committed before B can listen again, so only B's catch-up after reconnecting
  // can deliver them (no later write would).
  b.child.kill('SIGSTOP')
  let paused = true
  t.after(() => { if (paused) b.child.kill('SIGCONT') })
  const [{ terminated }] = await query<{ terminated: boolean }>('select pg_terminate_backend($1) as terminated', [pid])
  t.ok(terminated, 'B\'s listening connection killed')
  for (let n = 3; n <= 12; n++) await write(a, `A ${n}`)
  b.child.kill('SIGCONT')
  paused = false

  const received: Array<{ rev: number, value: unknown }> = []
  const receive = async (upTo: number) => {
    while (received.length < upTo - 2) {
      const event = await stream.next()
      t.equal(event.event, 'change', `a change event (${event.id})`)
      const revision = JSON.parse(event.data as string)
      t.equal(Number(event.id), revision.rev)
      received.push({ rev: revision.rev, value: revision.changes[0].value })
    }
  }
  await receive(12)
  t.same(received, [...wrote].slice(2).map(([rev, value]) => ({ rev, value })), 'B caught up: revisions 3 to 12, in order')
  t.not(await b.waitFor('a new listening connection', () => b.listenPids[1]), pid, 'B listens on a new connection')

  // Live again; a duplicate of anything before would come before these.
  await write(a, 'A after the reconnection')
  await write(b, 'B last')
  await receive(14)
  t.same(received, [...wrote].slice(2).map(([rev, value]) => ({ rev, value })), 'every revision from 3 to 14, in order, each once')
  t.same([...wrote.keys()], Array.from({ length: 14 }, (_, i) => i + 1), 'the writers were answered revisions 1 to 14')

  // Bulk writes (one transaction each) are announced too: a merge patch, then an erasure.
  const send = async (method: string, body?: string) => fetch(`${a.base}${PREFIX}/user/1/preference/`, {
    method,
    headers: { authorization: `Bearer ${token(1)}`, ...(body !== undefined && { 'content-type': 'application/merge-patch+json' }) },
    body,
    signal: AbortSignal.timeout(WAIT)
  })
  t.equal((await send('PATCH', '{"lang":"fr","theme":null}')).headers.get('preference-revision'), '15')
  const patched = await stream.next()
  t.match(patched, { event: 'change', id: '15' }, 'a merge patch through A reaches B')
  t.same(JSON.parse(patched.data as string).changes.map((c: { op: string, key: string }) => `${c.op} ${c.key}`), ['delete theme', 'set lang'])
  t.equal((await send('DELETE')).status, 204)
  t.same(await stream.next(), { event: 'reset', data: '{"rev":16}' }, 'an erasure through A resets B\'s stream')
  t.ok(b.log.some((l) => l.level === 40 && l.msg?.startsWith('preferences: lost the connection') === true), 'B logged the loss')
  const [{ rev }] = await query<{ rev: string }>(`select rev from ${schemaOf(database)}.user_revision where user_id = 1`)
  t.equal(Number(rev), 16, 'the database is at revision 16')
})

t.test('the notifications of one schema are not heard on another', { skip: PG_ONLY }, async (t) => {
  const urls = [await freshDatabaseUrl(t), await freshDatabaseUrl(t)]
  const heard: RevisionNotice[][] = [[], []]
  const stores = await Promise.all(urls.map(async (database) => createPreferenceStore({ database, changeLog: { listen: false } })))
  t.after(async () => { for (const store of stores) await store.close() })
  const listeners = await Promise.all(urls.map(async (url, i) => listenForRevisions(url, {
    timeoutMs: 5000, onNotice: (notice) => { heard[i].push(notice) }, onLost: () => { t.fail('lost') }
  })))
  t.after(async () => { for (const listener of listeners) await listener.close() })

  // In commit order: a listener would hear the other schema's revision before its own.
  await stores[0].set(1, 'theme', 'dark')
  await stores[1].set(2, 'theme', 'light')
  await eventually('schema 2\'s notification', () => heard[1].length > 0 ? true : undefined)
  await stores[0].set(1, 'theme', 'dim')
  await eventually('schema 1\'s second notification', () => heard[0].length > 1 ? true : undefined)
  t.same(heard[0], [{ userId: 1, rev: 1 }, { userId: 1, rev: 2 }], 'schema 1 heard only its own revisions')
  t.same(heard[1], [{ userId: 2, rev: 1 }], 'schema 2 heard only its own')
})

t.test('revisions committed together are announced together, after their commits', { skip: PG_ONLY }, async (t) => {
  const url = await freshDatabaseUrl(t)
  const store = await createPreferenceStore({ database: url, changeLog: { listen: false } })
  t.after(async () => { await store.close() })
  const payloads: string[] = []
  const heard: RevisionNotice[] = []
  const listener = await listenForRevisions(url, {
    timeoutMs: 5000, onNotice: (notice) => { heard.push(notice) }, onLost: () => { t.fail('lost') }
  })
  t.after(async () => { await listener.close() })
  const spy = new pg.Client({ connectionString: url })
  await spy.connect()
  t.after(async () => { await spy.end() })
  const { rows: [{ channel }] } = await spy.query<{ channel: string }>(`select ${CHANNEL_SQL} as channel`)
  spy.on('notification', (message) => { payloads.push(message.payload ?? '') })
  await spy.query(`listen ${spy.escapeIdentifier(channel)}`)

  await Promise.all(Array.from({ length: 40 }, async (_, i) => store.set(100 + i, 'theme', 'dark')))
  await eventually('forty revisions heard', () => heard.length >= 40 ? true : undefined)
  t.same(heard.map((n) => n.userId).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => 100 + i), 'every user\'s revision, once')
  t.ok(heard.every((n) => n.rev === 1), 'each at its revision')
  t.ok(payloads.length < 40, `in ${payloads.length} notifications, not one per write`)
  t.match(payloads[0], /^\d+:\d+(,\d+:\d+)*$/, 'a payload lists user:rev pairs')
})

t.test('an instance asks whether anyone else listens: its own listener does not count', { skip: PG_ONLY }, async (t) => {
  // A database of its own: the other test files' listeners are on the shared one.
  const name = `test_listen_${process.pid}`
  await query(`drop database if exists ${name}`)
  await query(`create database ${name}`)
  t.after(async () => { await query(`drop database if exists ${name} with (force)`) })
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  const { db } = openDatabase(url.toString())
  t.after(async () => db.destroy())
  const listen = async () => listenForRevisions(url.toString(), { timeoutMs: 5000, onNotice: () => {}, onLost: () => {} })

  t.equal(await othersListen(db, undefined), false, 'nobody listens')
  const own = await listen()
  t.after(async () => own.close())
  t.equal(await othersListen(db, own.pid), false, 'only this instance\'s own listener')
  t.equal(await othersListen(db, undefined), true, 'a listener, when it is not ours')
  const other = await listen()
  t.equal(await othersListen(db, own.pid), true, 'another instance listens')
  await other.close()
  await eventually('the other listener gone', async () => await othersListen(db, own.pid) ? undefined : true)
  t.pass('gone when it closes')
})

t.test('the fan-out catches up at each check: a revision whose announcement never came still reaches the streams', { skip: PG_ONLY }, async (t) => {
  const url = await freshDatabaseUrl(t)
  const bus = new ChangeBus()
  const told: number[] = []
  t.after(bus.subscribe(7, (rev) => { told.push(rev) }))
  // What the database says user 7 is at: moved on by hand, as a write whose NOTIFY was lost.
  let current = 0
  const fanout = new PgFanout({
    connectionString: url,
    bus,
    currentRevisions: async () => new Map(current > 0 ? [[7, current]] : []),
    log: { info: () => {}, warn: () => {} },
    pingMs: 50
  })
  fanout.start()
  t.after(async () => { await fanout.close() })
  await eventually('the listening connection', () => fanout.listening ? true : undefined)
  current = 3
  await eventually('revision 3 told', () => told.includes(3) ? true : undefined)
  current = 4
  await eventually('revision 4 told', () => told.includes(4) ? true : undefined)
  await sleep(200)
  t.same(told, [3, 4], 'each once, however many checks ran')
})

t.test('a Kysely instance with changeLog.listen: the streams hear another instance\'s writes; closing ends the connection', { skip: PG_ONLY }, async (t) => {
  const database = await freshDatabaseUrl(t)
  const { db } = openDatabase(database)
  t.after(async () => { await db.destroy() })
  const app = Fastify({ logger: false })
  await app.register(preferences, { prefix: PREFIX, auth: { secret: SECRET }, database: db, changeLog: { listen: database } })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  let closed = false
  t.after(async () => { if (!closed) await app.close() })
  const [{ channel }] = await query<{ channel: string }>(
    'select \'preferences_\' || oid as channel from pg_namespace where nspname = $1', [schemaOf(database)])
  const listening = async () => (await query('select pid from pg_stat_activity where application_name = $1 and query = $2',
    [LISTEN_APPLICATION_NAME, `LISTEN "${channel}"`])).length
  await eventually('the listening connection', async () => await listening() === 1 ? true : undefined)

  const stream = await openStream(t, base, 3)
  t.same(await stream.next(), { event: 'hello', data: '{"rev":0}' })
  // Another instance: a store of its own on the same schema.
  const other = await createPreferenceStore({ database, changeLog: { listen: false } })
  t.after(async () => { await other.close() })
  await other.set(3, 'lang', 'fr')
  const change = await stream.next()
  t.match(change, { event: 'change', id: '1' }, 'a write through another instance reaches the stream')
  t.same(JSON.parse(change.data as string).changes.map((c: { key: string }) => c.key), ['lang'])

  stream.close()
  await app.close()
  closed = true
  await eventually('the listening connection to close', async () => await listening() === 0 ? true : undefined)
  t.pass('no listening connection is left after close')
})

t.test('changeLog.listen: a postgres:// URL or a boolean, and only for PostgreSQL', async (t) => {
  for (const listen of ['mysql://x', 5, 'data/x.sqlite']) {
    await t.rejects(createPreferenceStore({ database: ':memory:', changeLog: { listen: listen as string } }),
      { code: 'PREFERENCE_INVALID_OPTION', message: /changeLog\.listen must be a boolean or a postgres:\/\/ URL/ }, `refused: ${String(listen)}`)
  }
  await t.rejects(createPreferenceStore({ database: ':memory:', changeLog: { listen: PG_URL } }),
    { code: 'PREFERENCE_INVALID_OPTION', message: /changeLog\.listen is for PostgreSQL/ })
  if (BACKEND === 'sqlite') {
    // A Kysely instance on SQLite with a URL to listen on: refused when the plugin starts.
    const app = Fastify({ logger: false })
    const { db } = openDatabase(':memory:')
    t.after(async () => { await db.destroy() })
    app.register(preferences, { auth: { secret: SECRET }, database: db, changeLog: { listen: PG_URL } })
    await t.rejects(async () => app.ready(),
      { code: 'PREFERENCE_INVALID_OPTION', message: /changeLog\.listen is for PostgreSQL/ })
    await app.close()
  }
})

t.test('the bus tells each revision once, in order: a repeated or older one is dropped', async (t) => {
  const bus = new ChangeBus()
  const heard: number[] = []
  const unsubscribe = bus.subscribe(7, (rev) => { heard.push(rev) })
  bus.publish(7, 1)
  bus.publish(7, 1)
  bus.publish(7, 3)
  bus.publish(7, 2)
  bus.publish(8, 9)
  bus.publish(7, 4)
  t.same(heard, [1, 3, 4])
  t.same(bus.users(), [7])
  unsubscribe()
  t.same(bus.users(), [], 'no user is kept once their listeners are gone')
  bus.subscribe(7, (rev) => { heard.push(rev) })
  bus.publish(7, 1)
  t.same(heard, [1, 3, 4, 1], 'a new subscriber starts afresh')
})

t.test('the fan-out retries with backoff while the database cannot be reached, and close() stops it', async (t) => {
  const warnings: string[] = []
  const fanout = new PgFanout({
    connectionString: 'postgres://postgres@127.0.0.1:1/none',
    bus: new ChangeBus(),
    currentRevisions: async () => new Map(),
    log: { info: () => {}, warn: (_details, message) => { warnings.push(message) } },
    timeoutMs: 1000,
    minRetryMs: 5,
    maxRetryMs: 20
  })
  fanout.start()
  await eventually('three attempts', () => warnings.length >= 3 ? true : undefined)
  t.notOk(fanout.listening)
  t.equal(fanout.pid, undefined, 'no listening connection, no pid')
  await fanout.close()
  const attempts = warnings.length
  await sleep(200)
  t.equal(warnings.length, attempts, 'no attempt after close()')
  t.match(warnings[0], /cannot open the connection that listens/)
})
