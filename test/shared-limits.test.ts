import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import t from 'tap'
import type { Test } from 'tap'
import { openDatabase } from '../db/connect.js'
import { buildApp } from '../server/app.js'
import { loadConfig } from '../server/config.js'
import { RedisStreamSlots } from '../store/stream-slots.js'
import { build, client, freshDatabaseUrl, PREFIX, SECRET, token, type BuildOptions } from './helper.js'
import { childEnv } from './child-env.js'

// Limits that hold across instances: two instances of the plugin on one database share one
// Redis (the one this machine runs), so that the rate limit and maxStreamsPerUser count once
// for both. Every key goes under a prefix of this run's own, removed at the end.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const RUN_PREFIX = `prefs-test:${process.pid}:${randomBytes(4).toString('hex')}:`
let testNumber = 0

/** A prefix of the test's own, under this run's. */
const prefixFor = (): string => `${RUN_PREFIX}${++testNumber}:`

/** A client of the test's Redis, disconnected when the test ends. */
function redisClient (t: Test): Redis {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  t.after(() => { redis.disconnect() })
  return redis
}

/** Every key under `prefix`, sorted. */
async function keysUnder (redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    keys.push(...found)
  } while (cursor !== '0')
  return keys.sort()
}

/** Two instances of the plugin on one database, with the same options. */
async function twoInstances (t: Test, options: BuildOptions) {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  const a = await build(t, { ...options, plugin: { ...options.plugin, database: db } })
  const b = await build(t, { ...options, plugin: { ...options.plugin, database: db } })
  t.after(async () => {
    await a.app.close()
    await b.app.close()
    await db.destroy()
  })
  return { a: a.app, b: b.app }
}

interface OpenedStream {
  status: number
  headers: IncomingHttpHeaders
  /** The body, for an answer that is not a stream. */
  body: () => Promise<string>
  /** Resolves once the `hello` event has arrived. */
  hello: () => Promise<void>
  close: () => void
}

/** GET .../events/ over a real socket. */
async function openStream (address: string, userId: number): Promise<OpenedStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${address}${PREFIX}/user/${userId}/preference/events/`, { headers: { authorization: `Bearer ${token(userId)}` } }, (res) => {
      res.setEncoding('utf8')
      let text = ''
      const watchers: Array<() => void> = []
      const ended = new Promise<void>((resolve) => { res.on('close', resolve) })
      res.on('data', (chunk: string) => {
        text += chunk
        for (const watcher of watchers.splice(0)) watcher()
      })
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: async () => { await ended; return text },
        hello: async () => new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no hello within 5 s; got: ${text}`)), 5000)
          const check = (): void => {
            if (text.includes('event: hello')) {
              clearTimeout(timer)
              resolve()
            } else watchers.push(check)
          }
          check()
        }),
        close: () => { req.destroy() }
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** Waits until `check` holds, polling; fails after `ms`. */
async function until (what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function redisAnswers (): Promise<true | string> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  let lastError: Error | undefined
  redis.on('error', (error: Error) => { lastError = error })
  try {
    await redis.connect()
    await redis.ping()
    return true
  } catch (error) {
    return (lastError ?? error as Error).message
  } finally {
    redis.disconnect()
  }
}

const reachable = await redisAnswers()
if (reachable !== true) {
  // On CI the Redis is part of the setup: its absence is a failure, not a reason to skip.
  if (process.env.CI === 'true') t.fail(`Redis at ${REDIS_URL} does not answer (${reachable}); CI needs it`)
  else t.plan(0, `no Redis at ${REDIS_URL} (${reachable}): start one, or set TEST_REDIS_URL`)
} else {
  t.after(async () => {
    const redis = new Redis(REDIS_URL)
    const left = await keysUnder(redis, RUN_PREFIX)
    if (left.length > 0) await redis.del(...left)
    redis.disconnect()
  })
  sharedLimitTests()
}

function sharedLimitTests (): void {
  t.test('rate limit: one budget per caller across two instances', async (t) => {
    const redis = redisClient(t)
    const prefix = prefixFor()
    const { a, b } = await twoInstances(t, { plugin: { rateLimit: { max: 4, timeWindow: 60_000 }, redis, redisPrefix: prefix } })
    const onA = client(a, token(1))
    const onB = client(b, token(1))

    const remaining: string[] = []
    for (const c of [onA, onB, onA, onB]) {
      const res = await c.request('GET', '/user/1/preference/')
      t.equal(res.statusCode, 200)
      remaining.push(String(res.headers['x-ratelimit-remaining']))
    }
    t.same(remaining, ['3', '2', '1', '0'], 'each instance counts the other\'s requests')
    for (const [name, c] of [['A', onA], ['B', onB]] as const) {
      const res = await c.request('PUT', '/user/1/preference/by-key/theme/', { value: 'dark' })
      t.equal(res.statusCode, 429, `the fifth and sixth request, on ${name}, are over the limit`)
      t.equal(res.json().code, 'PREFERENCE_RATE_LIMITED')
      t.match(res.headers['retry-after'], /^[1-9][0-9]*$/)
    }
    const other = await client(b, token(2)).request('GET', '/user/2/preference/')
    t.equal(other.statusCode, 200, 'another caller has a budget of its own')
    t.equal(other.headers['x-ratelimit-remaining'], '3')

    t.equal(await redis.get(`${prefix}rate-limit:user:1`), '6', 'Redis holds one counter for user 1: every request counted once')
    const ttl = await redis.pttl(`${prefix}rate-limit:user:1`)
    t.ok(ttl > 0 && ttl <= 60_000, 'it expires with the time window')
  })

  t.test('rate limit: without redis each instance counts alone (what redis fixes)', async (t) => {
    const { a, b } = await twoInstances(t, { plugin: { rateLimit: { max: 2, timeWindow: 60_000 } } })
    const statuses: number[] = []
    for (const app of [a, b, a, b]) statuses.push((await client(app, token(1)).request('GET', '/user/1/preference/')).statusCode)
    t.same(statuses, [200, 200, 200, 200], 'twice the limit gets through, split over two instances')
  })

  t.test('stream slots: streams open on A count on B; past the limit 429; a closed stream frees its slot', async (t) => {
    const redis = redisClient(t)
    const prefix = prefixFor()
    const { a, b } = await twoInstances(t, { plugin: { maxStreamsPerUser: 2, redis, redisPrefix: prefix } })
    const addressA = await a.listen({ host: '127.0.0.1', port: 0 })
    const addressB = await b.listen({ host: '127.0.0.1', port: 0 })
    const slots = async (userId: number) => redis.zcard(`${prefix}streams:${userId}`)

    const first = await openStream(addressA, 1)
    t.after(() => first.close())
    t.equal(first.status, 200)
    await first.hello()
    const second = await openStream(addressB, 1)
    t.after(() => second.close())
    t.equal(second.status, 200)
    await second.hello()
    t.equal(await slots(1), 2, 'Redis counts both')

    for (const [name, address] of [['A', addressA], ['B', addressB]] as const) {
      const third = await openStream(address, 1)
      t.equal(third.status, 429, `a third stream, on ${name}, is refused`)
      t.match(JSON.parse(await third.body()), { code: 'PREFERENCE_TOO_MANY_STREAMS', message: 'This user already has 2 open event streams' })
    }
    t.equal(await slots(1), 2, 'a refused stream takes no slot')
    const other = await openStream(addressB, 2)
    t.after(() => other.close())
    t.equal(other.status, 200, 'another user has slots of their own')
    await other.hello()

    first.close()
    await until('the slot of the stream closed on A is given back', async () => (await slots(1)) === 1)
    const again = await openStream(addressB, 1)
    t.after(() => again.close())
    t.equal(again.status, 200, 'then B opens one')
    await again.hello()

    // An instance that stops gives its slots back.
    await b.close()
    t.equal(await slots(1), 0, 'B\'s close released its streams of user 1 before it resolved')
    t.equal(await slots(2), 0)
    t.same(await keysUnder(redis, `${prefix}streams:`), [], 'no key is left behind')
  })

  t.test('stream slots: an expired lease frees its slot; a live stream keeps renewing its own', async (t) => {
    const redis = redisClient(t)
    const prefix = prefixFor()
    const { a, b } = await twoInstances(t, { plugin: { maxStreamsPerUser: 2, heartbeatSeconds: 1, redis, redisPrefix: prefix } })
    const addressA = await a.listen({ host: '127.0.0.1', port: 0 })
    const addressB = await b.listen({ host: '127.0.0.1', port: 0 })

    // An instance that crashed holding two of user 3's slots: it never renews nor releases them.
    const crashed = new RedisStreamSlots(redis, { prefix, leaseMs: 1000, timeoutMs: 2000, onError: (error) => { t.fail(String(error)) } })
    t.ok(await crashed.acquire(3, 2))
    t.ok(await crashed.acquire(3, 2))
    t.equal(await crashed.acquire(3, 2), null, 'the crashed instance itself saw the limit')
    const refused = await openStream(addressB, 3)
    t.equal(refused.status, 429, 'while its leases run, user 3 is at the limit')
    await refused.body()
    await sleep(1100)
    const freed = await openStream(addressB, 3)
    t.after(() => freed.close())
    t.equal(freed.status, 200, 'once they expire, the slots are free again')
    await freed.hello()
    t.equal(await redis.zcard(`${prefix}streams:3`), 1, 'the expired entries are gone; the new stream is counted')

    // A's lease lasts three heartbeats (3 s): held past that, it was renewed at each one.
    const held = await openStream(addressA, 4)
    t.after(() => held.close())
    await held.hello()
    const second = await openStream(addressB, 4)
    t.after(() => second.close())
    await second.hello()
    await sleep(4000)
    const third = await openStream(addressB, 4)
    t.equal(third.status, 429, 'four seconds on, both of user 4\'s streams still count')
    await third.body()
  })

  t.test('Redis unreachable: opening a stream is a 503 with a generic message; other requests go on', async (t) => {
    // Nothing listens on port 1. Failing at once (no offline queue) and by the plugin's own
    // deadline (commands queued for a Redis that never comes) are both a 503. (The rate
    // limit has no deadline of its own: with a queue that waits forever, so would it.)
    for (const enableOfflineQueue of [false, true]) {
      const redis = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue, maxRetriesPerRequest: null })
      redis.on('error', () => {})
      t.after(() => { redis.disconnect() })
      const rateLimit = enableOfflineQueue ? false : { max: 100 }
      const { app } = await build(t, { plugin: { rateLimit, redis, redisPrefix: prefixFor() } })
      const address = await app.listen({ host: '127.0.0.1', port: 0 })
      // Over a real socket, as a browser opens a stream.
      const stream = await openStream(address, 1)
      t.equal(stream.status, 503, `offline queue ${enableOfflineQueue}`)
      t.equal(stream.headers['retry-after'], '1')
      t.same(JSON.parse(await stream.body()), {
        statusCode: 503,
        code: 'PREFERENCE_STREAMS_UNAVAILABLE',
        error: 'Service Unavailable',
        message: 'Event streams cannot be opened right now; try again shortly'
      }, 'no detail of the failure reaches the client')
      if (!enableOfflineQueue) {
        const c = client(app, token(1))
        t.equal((await c.create('theme', 'dark')).statusCode, 201, 'the rate limit lets requests through while Redis is away')
        t.equal((await c.request('GET', '/user/1/preference/')).json().results.length, 1)
      }
    }
  })

  t.test('redis and redisPrefix are checked at registration', async (t) => {
    const redis = redisClient(t)
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ redis: {} }, /redis must be an ioredis 5 client/],
      [{ redis: REDIS_URL }, /redis must be an ioredis 5 client/],
      [{ redis: null }, /redis must be an ioredis 5 client/],
      [{ redisPrefix: 'p:' }, /redisPrefix is set but redis is not/],
      [{ redis, redisPrefix: '' }, /redisPrefix must be 1 to 100 printable ASCII characters/],
      [{ redis, redisPrefix: 'has space' }, /redisPrefix must be/],
      [{ redis, redisPrefix: 5 }, /redisPrefix must be/],
      [{ redis, redisPrefix: 'x'.repeat(101) }, /redisPrefix must be/]
    ]
    for (const [plugin, message] of bad) {
      await t.rejects(build(t, { plugin: plugin as BuildOptions['plugin'] }), { code: 'PREFERENCE_INVALID_OPTION', message }, JSON.stringify(plugin).slice(0, 80))
    }

    // The default prefix: 'preferences:'. A user id nobody else uses, and its key removed.
    const userId = 900_000_000 + Math.floor(Math.random() * 1_000_000)
    t.after(async () => { await redis.del(`preferences:rate-limit:user:${userId}`) })
    const { app } = await build(t, { plugin: { redis, rateLimit: { max: 5 } } })
    t.equal((await client(app, token(userId)).request('GET', '/user/me/preference/')).statusCode, 200)
    t.equal(await redis.get(`preferences:rate-limit:user:${userId}`), '1')
  })

  t.test('standalone server: REDIS_URL is checked, opened, shared and closed with the app', async (t) => {
    t.equal(loadConfig({}).redisUrl, undefined, 'unset: no Redis')
    t.equal(loadConfig({ REDIS_URL: '' }).redisUrl, undefined, 'empty: no Redis')
    t.equal(loadConfig({ REDIS_URL: 'rediss://user:pw@cache.example:6380/2' }).redisUrl, 'rediss://user:pw@cache.example:6380/2')
    for (const url of ['http://127.0.0.1:6379', 'not a url', '127.0.0.1:6379', 'redis://']) {
      t.throws(() => loadConfig({ REDIS_URL: url }), { code: 'PREFERENCE_INVALID_CONFIG', message: /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/ }, url)
    }
    t.throws(() => loadConfig({ REDIS_URL: 'http://user:s3cret@host' }), { message: /http:\/\/user:\*\*\*@host/ }, 'the password is not printed')

    const prefix = prefixFor()
    const databaseUrl = await freshDatabaseUrl(t)
    const servers = []
    for (let i = 0; i < 2; i++) {
      const app = await buildApp({
        jwtSecret: SECRET,
        databaseUrl,
        logger: false,
        redisUrl: REDIS_URL,
        plugin: { rateLimit: { max: 3, timeWindow: 60_000 }, redisPrefix: prefix }
      })
      t.after(async () => { await app.close() })
      servers.push(app)
    }
    const statuses: number[] = []
    for (const app of [...servers, ...servers]) {
      statuses.push((await app.inject({ url: `${PREFIX}/user/me/preference/`, headers: { authorization: `Bearer ${token(1)}` } })).statusCode)
    }
    t.same(statuses, [200, 200, 200, 429], 'the two servers share one budget')

    await t.rejects(buildApp({ jwtSecret: SECRET, databaseUrl, logger: false, redisUrl: 'redis://127.0.0.1:1' }),
      { code: 'PREFERENCE_INVALID_CONFIG', message: /Redis at redis:\/\/127\.0\.0\.1:1 does not answer: .*ECONNREFUSED.*\(check REDIS_URL\)/ })

    // The real entry point: an unreachable Redis stops the start with that message.
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT, env: childEnv({ PORT: '0', DATABASE_URL: ':memory:', JWT_SECRET: SECRET, REDIS_URL: 'redis://:pw@127.0.0.1:1' })
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const [code] = await new Promise<[number | null]>((resolve) => child.on('close', (code) => resolve([code])))
    t.equal(code, 1, 'the server exits')
    t.match(stderr, /Cannot start: Invalid configuration: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 does not answer: .*ECONNREFUSED.*\(check REDIS_URL\)/)
    t.notMatch(stderr, /:pw@/, 'without the password')
  })

  t.test('standalone server: REDIS_PREFIX names where its keys go', async (t) => {
    t.equal(loadConfig({ REDIS_URL }).redisPrefix, undefined, 'unset: the plugin\'s default')
    t.equal(loadConfig({ REDIS_URL, REDIS_PREFIX: '' }).redisPrefix, undefined, 'empty: the plugin\'s default')
    t.equal(loadConfig({ REDIS_URL, REDIS_PREFIX: 'app-1:' }).redisPrefix, 'app-1:')
    t.throws(() => loadConfig({ REDIS_PREFIX: 'app-1:' }), { code: 'PREFERENCE_INVALID_CONFIG', message: /REDIS_PREFIX is set but REDIS_URL is not/ })

    const start = (env: Record<string, string>) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
        cwd: ROOT, env: childEnv({ PORT: '0', DATABASE_URL: ':memory:', JWT_SECRET: SECRET, LOG_LEVEL: 'info', REDIS_URL, ...env })
      })
      t.after(() => { child.kill('SIGKILL') })
      let output = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
      const listening = new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
          if (match !== null) resolve(match[1])
        })
        closed.then(() => { reject(new Error(`exited: ${output}`)) }, reject)
      })
      listening.catch(() => {}) // awaited only for a server expected to start
      return { listening, closed, output: () => output }
    }

    // The real entry point hands the prefix to the plugin: the rate limit counts under it.
    const prefix = prefixFor()
    const server = start({ REDIS_PREFIX: prefix, RATE_LIMIT_PER_MINUTE: '5' })
    const base = await server.listening
    const response = await fetch(`${base}${PREFIX}/user/me/preference/`, { headers: { authorization: `Bearer ${token(3)}` } })
    t.equal(response.status, 200)
    t.same(await keysUnder(redisClient(t), prefix), [`${prefix}rate-limit:user:3`], 'the one key it wrote is under REDIS_PREFIX')

    const bad = start({ REDIS_PREFIX: 'has space' })
    t.equal(await bad.closed, 1, 'a prefix the plugin refuses stops the start')
    t.match(bad.output(), /Cannot start: Invalid preferences plugin option: redisPrefix must be 1 to 100 printable ASCII characters.*\(check REDIS_PREFIX\)/)
  })
}
