import { request as httpRequest, type IncomingMessage } from 'node:http'
import { Writable } from 'node:stream'
import t from 'tap'
import type { Test } from 'tap'
import { createPreferenceStore } from '../index.js'
import { STORE_CORE } from '../store/preference-store.js'
import { build, client, freshDatabaseUrl, PREFIX, token, type BuildOptions } from './helper.js'

// The event stream over a real socket: a plain HTTP client reads it as a browser would.

interface ServerEvent { event?: string, id?: string, data?: string, comment?: string }

interface Stream {
  status: number
  headers: IncomingMessage['headers']
  /** Waits for the next event (comments included), or fails after `ms`. */
  next: (ms?: number) => Promise<ServerEvent>
  /** Resolves when the server ends the stream. */
  ended: Promise<void>
  close: () => void
  /** The body, when the answer is not a stream. */
  body: () => Promise<string>
}

async function listen (t: Test, options: BuildOptions = {}) {
  const test = await build(t, options)
  const address = await test.app.listen({ host: '127.0.0.1', port: 0 })
  return { ...test, address }
}

function open (address: string, path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${address}${PREFIX}${path}`, { headers }, (res) => {
      res.setEncoding('utf8')
      const queue: ServerEvent[] = []
      const waiting: Array<(e: ServerEvent) => void> = []
      let buffer = ''
      let text = ''
      let endedResolve: () => void = () => {}
      const ended = new Promise<void>((resolve) => { endedResolve = resolve })
      res.on('end', () => endedResolve())
      res.on('close', () => endedResolve())
      res.on('data', (chunk: string) => {
        text += chunk
        buffer += chunk
        let at: number
        while ((at = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          const event: ServerEvent = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) event.comment = line.slice(1).trim()
            else {
              const colon = line.indexOf(':')
              const field = line.slice(0, colon) as 'event' | 'id' | 'data'
              event[field] = line.slice(colon + 1).trimStart()
            }
          }
          const waiter = waiting.shift()
          if (waiter !== undefined) waiter(event)
          else queue.push(event)
        }
      })
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        next: async (ms = 5000) => {
          const queued = queue.shift()
          if (queued !== undefined) return queued
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no event within ${ms} ms; so far: ${text}`)), ms)
            waiting.push((e) => { clearTimeout(timer); resolve(e) })
          })
        },
        ended,
        close: () => { req.destroy() },
        body: async () => { await ended; return text }
      })
    })
    req.on('error', reject)
    req.end()
  })
}

const auth = (userId: number) => ({ authorization: `Bearer ${token(userId)}` })
const data = (e: ServerEvent) => JSON.parse(e.data as string)

t.test('hello, then every revision as it is committed, with its id; heartbeats between', async (t) => {
  const { app, address } = await listen(t, { plugin: { heartbeatSeconds: 1 } })
  const stream = await open(address, '/user/me/preference/events/', auth(1))
  t.after(() => stream.close())
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  t.same(await stream.next(), { event: 'hello', data: '{"rev":0}' })

  const c = client(app, token(1))
  const created = (await c.create('theme', 'dark')).json()
  const change = await stream.next()
  t.equal(change.event, 'change')
  t.equal(change.id, '1')
  t.same(data(change), { rev: 1, at: created.created_at, actor: { id: 1, admin: false }, changes: [{ op: 'set', key: 'theme', id: created.id, value: 'dark' }] })
  await client(app, token(2)).create('theme', 'light')
  await c.request('DELETE', '/user/1/preference/by-key/theme/')
  t.match(await stream.next(), { event: 'change', id: '2' }, 'another user\'s change is not sent')
  t.match(await stream.next(3000), { comment: 'heartbeat' })
})

t.test('Last-Event-ID (or ?since) replays what came after it; an expired or future one is a reset', async (t) => {
  const { app, address } = await listen(t, { plugin: { changeLog: { maxRevisions: 3 } } })
  const c = client(app, token(1))
  for (let i = 0; i < 5; i++) await c.request('PUT', '/user/1/preference/by-key/k/', { value: i })

  const resumed = await open(address, '/user/1/preference/events/', { ...auth(1), 'last-event-id': '3' })
  t.after(() => resumed.close())
  t.same(await resumed.next(), { event: 'hello', data: '{"rev":5}' })
  t.same([await resumed.next(), await resumed.next()].map((e) => [e.id, data(e).changes[0].value]), [['4', 3], ['5', 4]])
  await c.request('PUT', '/user/1/preference/by-key/k/', { value: 5 })
  t.equal((await resumed.next()).id, '6', 'then live')

  const bySince = await open(address, '/user/1/preference/events/?since=5', auth(1))
  t.after(() => bySince.close())
  await bySince.next()
  t.equal((await bySince.next()).id, '6')

  for (const since of ['1', '99']) {
    const reset = await open(address, '/user/1/preference/events/', { ...auth(1), 'last-event-id': since })
    t.after(() => reset.close())
    t.same(await reset.next(), { event: 'hello', data: '{"rev":6}' })
    t.same(await reset.next(), { event: 'reset', data: '{"rev":6}' }, `Last-Event-ID ${since}`)
  }
})

t.test('access_token works on this route only, and never reaches the log', async (t) => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _encoding, done) { lines.push(chunk.toString()); done() } })
  const { address } = await listen(t, { server: { logger: { level: 'info', stream: sink } } })
  const secret = token(1)
  const stream = await open(address, `/user/me/preference/events/?access_token=${secret}`)
  t.after(() => stream.close())
  t.equal(stream.status, 200)
  t.same(await stream.next(), { event: 'hello', data: '{"rev":0}' })
  const list = await open(address, `/user/me/preference/?access_token=${secret}`)
  t.equal(list.status, 401, 'not on the other routes')
  await list.body()
  t.ok(lines.some((l) => l.includes('access_token=[redacted]')), 'the request is logged, redacted')
  t.notOk(lines.some((l) => l.includes(secret.split('.')[2])), 'the token is in no log line')
})

t.test('the stream ends when the token expires', async (t) => {
  const { address } = await listen(t)
  const shortLived = token({ sub: 1, signer: { expiresIn: 1500 } })
  const stream = await open(address, '/user/me/preference/events/', { authorization: `Bearer ${shortLived}` })
  await stream.next()
  const started = Date.now()
  await stream.ended
  t.ok(Date.now() - started < 4000, 'ended at expiry')
})

t.test('maxStreamsPerUser: 429 beyond it; closed streams leave nothing behind; 401 and 403 as elsewhere', async (t) => {
  const store = await createPreferenceStore({ database: await freshDatabaseUrl(t) })
  t.after(() => store.close())
  const { address } = await listen(t, { plugin: { maxStreamsPerUser: 2, store, database: undefined } })
  const bus = store[STORE_CORE].bus
  const a = await open(address, '/user/me/preference/events/', auth(1))
  const b = await open(address, '/user/me/preference/events/', auth(1))
  await a.next()
  await b.next()
  const third = await open(address, '/user/me/preference/events/', auth(1))
  t.equal(third.status, 429)
  t.equal(JSON.parse(await third.body()).code, 'PREFERENCE_TOO_MANY_STREAMS')
  const other = await open(address, '/user/me/preference/events/', auth(2))
  t.equal(other.status, 200, 'per user')
  t.equal(bus.size, 3, 'one listener per open stream')
  a.close()
  await a.ended
  await new Promise((resolve) => setTimeout(resolve, 100))
  const again = await open(address, '/user/me/preference/events/', auth(1))
  t.equal(again.status, 200, 'a closed stream frees its place')
  for (const s of [b, other, again]) s.close()
  await Promise.all([b.ended, other.ended, again.ended])
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(bus.size, 0, 'every listener gone once the clients left')
  t.equal((await open(address, '/user/me/preference/events/')).status, 401)
  t.equal((await open(address, '/user/2/preference/events/', auth(1))).status, 403)
})

t.test('shutdown ends open streams cleanly', async (t) => {
  const { app, address } = await listen(t)
  const stream = await open(address, '/user/me/preference/events/', auth(1))
  await stream.next()
  const started = Date.now()
  await app.close()
  await stream.ended
  t.ok(Date.now() - started < 3000, 'close did not wait for the stream')
})
