import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { type AppOptions, buildApp, SERVER_LIMITS } from '../server/app.js'
import { loadConfig } from '../server/config.js'
import { ERROR_CODES } from '../schemas/error-catalogue.js'
import { bearer, build, client, freshDatabaseUrl, PREFIX, SECRET, token } from './helper.js'
import { childEnv } from './child-env.js'

// The standalone server's limits, over real sockets on 127.0.0.1 (inject has no sockets,
// header size limit or timeouts), and the optional per-caller rate limit.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

async function listen (t: Test, options: Partial<AppOptions> = {}): Promise<{ app: FastifyInstance, port: number }> {
  const app = await buildApp({ jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(t), logger: false, ...options })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, port: address.port }
}

interface RawResult {
  /** Everything the server sent before it closed the connection (or we gave up). */
  text: string
  status: number | null
  /** Milliseconds from connecting to the server closing the socket; null if it never did. */
  closedAfter: number | null
  /** How many of our chunks were written before the close. */
  written: number
}

/**
 * Opens a socket and writes `chunks` one every `intervalMs`; resolves when the server
 * closes the connection or `giveUpMs` after connecting. Bounded in time and count.
 */
async function trickle (t: Test, port: number, chunks: Array<string | Buffer>, intervalMs: number, giveUpMs: number): Promise<RawResult> {
  const started = Date.now()
  const socket: Socket = connect({ host: '127.0.0.1', port })
  t.after(() => { socket.destroy() })
  let text = ''
  let written = 0
  let closedAfter: number | null = null
  socket.setEncoding('latin1').on('data', (chunk: string) => { text += chunk })
  socket.on('error', () => {}) // a reset is one way of being cut off
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined
    const finish = () => {
      clearTimeout(timer)
      clearTimeout(deadline)
      socket.destroy()
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text)
      resolve({ text, status: match === null ? null : Number(match[1]), closedAfter, written })
    }
    const deadline = setTimeout(finish, giveUpMs)
    socket.once('close', () => { closedAfter = Date.now() - started; finish() })
    const next = () => {
      if (written >= chunks.length || socket.destroyed) return
      socket.write(chunks[written++])
      timer = setTimeout(next, intervalMs)
    }
    next()
  })
}

/** One complete request over a fresh socket; the answer as text. */
async function rawRequest (t: Test, port: number, request: string | Buffer): Promise<RawResult> {
  return trickle(t, port, [request], 0, 10_000)
}

const bodyOf = (text: string): string => text.slice(text.indexOf('\r\n\r\n') + 4)

t.test('the standalone server is configured with the documented limits', async (t) => {
  const { app } = await listen(t)
  t.equal(app.server.requestTimeout, SERVER_LIMITS.requestTimeout, 'requestTimeout')
  t.equal(app.server.headersTimeout, SERVER_LIMITS.headersTimeout, 'headersTimeout')
  t.equal(app.server.keepAliveTimeout, SERVER_LIMITS.keepAliveTimeout, 'keepAliveTimeout')
  t.equal(app.server.timeout, SERVER_LIMITS.connectionTimeout, 'connection (idle) timeout')
  t.equal((app.server as unknown as { maxHeaderSize: number }).maxHeaderSize, SERVER_LIMITS.maxHeaderSize, 'maxHeaderSize')
  t.equal(SERVER_LIMITS.maxHeaderSize, 32 * 1024)
  t.ok(SERVER_LIMITS.headersTimeout <= SERVER_LIMITS.requestTimeout, 'headers are due before the whole request')
})

t.test('headers: a 20 KB token is read (and refused 401); a 64 KB header is a 431', async (t) => {
  const { port } = await listen(t)
  const [h, , s] = token(1).split('.')
  const big = `${h}.${'A'.repeat(20 * 1024)}.${s}`
  const path = `${PREFIX}/user/1/preference/`
  const tokenRes = await rawRequest(t, port, `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${big}\r\nConnection: close\r\n\r\n`)
  t.equal(tokenRes.status, 401, 'a 20 KB bearer token: 401')
  t.match(JSON.parse(bodyOf(tokenRes.text)), { statusCode: 401, code: 'PREFERENCE_AUTH_INVALID' })
  t.match(tokenRes.text, /www-authenticate: Bearer realm="preferences", error="invalid_token"/i)

  const good = await rawRequest(t, port, `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token(1)}\r\nX-Padding: ${'p'.repeat(20 * 1024)}\r\nConnection: close\r\n\r\n`)
  t.equal(good.status, 200, 'a good token with 20 KB of other headers: 200')

  const huge = await rawRequest(t, port, `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token(1)}\r\nX-Padding: ${'p'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`)
  t.equal(huge.status, 431, 'a 64 KB header: 431')
  t.not(huge.closedAfter, null, 'and the connection is closed')
  const many = Array.from({ length: 700 }, (_, i) => `X-H${i}: ${'v'.repeat(50)}\r\n`).join('')
  const lots = await rawRequest(t, port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${many}\r\n`)
  t.equal(lots.status, 431, '700 headers of 50 bytes: 431')
})

t.test('body: over the limit is a 413 with the plugin\'s code, announced or not', async (t) => {
  const { port } = await listen(t)
  const path = `${PREFIX}/user/1/preference/`
  const auth = `Authorization: Bearer ${token(1)}\r\n`
  const body = JSON.stringify({ key: 'k', value: 'x'.repeat(2 * 1024 * 1024) })
  const sent = await rawRequest(t, port, `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  t.equal(sent.status, 413)
  t.match(JSON.parse(bodyOf(sent.text)), { statusCode: 413, code: 'PREFERENCE_BODY_TOO_LARGE' })

  // Announced but never sent: answered at once from Content-Length, without waiting for it.
  const announced = await trickle(t, port, [`POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n{"key":`], 0, 5_000)
  t.equal(announced.status, 413, 'a 50 MB Content-Length: 413 before the body')

  // Chunked, no Content-Length: cut off once the limit is passed.
  const chunk = `${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`
  const chunked = await trickle(t, port, [
    `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    ...Array.from({ length: 40 }, () => chunk)
  ], 5, 10_000)
  t.equal(chunked.status, 413, 'a chunked body past the limit: 413')
  t.ok(chunked.written < 40, `the server stopped reading (${chunked.written} of 40 chunks written)`)
})

t.test('slowloris: headers sent a line at a time are cut off at headersTimeout', async (t) => {
  const headersTimeout = 1_000
  const { port } = await listen(t, { limits: { headersTimeout, requestTimeout: 5_000, connectionsCheckingInterval: 100 } })
  const lines = [`GET ${PREFIX}/user/1/preference/ HTTP/1.1\r\n`,
    ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: ${i}\r\n`)]
  const res = await trickle(t, port, lines, 100, 8_000)
  t.not(res.closedAfter, null, 'the server closed the connection')
  t.ok((res.closedAfter ?? Infinity) >= headersTimeout - 50, `not before headersTimeout (${res.closedAfter} ms)`)
  t.ok((res.closedAfter ?? Infinity) < headersTimeout + 1_500, `soon after headersTimeout (${res.closedAfter} ms)`)
  t.ok(res.written < lines.length, `the client never finished its headers (${res.written} of ${lines.length} lines)`)
  t.equal(res.status, 408, '408 Request Timeout')
})

t.test('a body sent a byte at a time is cut off at requestTimeout', async (t) => {
  const requestTimeout = 1_500
  const { port } = await listen(t, { limits: { headersTimeout: 1_000, requestTimeout, connectionsCheckingInterval: 100 } })
  const body = JSON.stringify({ key: 'slow', value: 'y'.repeat(100) })
  const head = `POST ${PREFIX}/user/1/preference/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token(1)}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`
  const res = await trickle(t, port, [head, ...body.split('')], 50, 10_000)
  t.not(res.closedAfter, null, 'the server closed the connection')
  t.ok((res.closedAfter ?? Infinity) < requestTimeout + 1_500, `soon after requestTimeout (${res.closedAfter} ms)`)
  t.ok(res.written < body.length + 1, `the body never finished (${res.written - 1} of ${body.length} bytes)`)
})

t.test('an idle connection is closed after connectionTimeout', async (t) => {
  const { port } = await listen(t, { limits: { connectionTimeout: 500 } })
  const res = await trickle(t, port, [], 0, 5_000)
  t.not(res.closedAfter, null, 'closed by the server')
  t.ok((res.closedAfter ?? Infinity) < 2_000, `within about connectionTimeout (${res.closedAfter} ms)`)
})

t.test('rate limit: off by default', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  for (let i = 0; i < 30; i++) {
    const res = await c.request('GET', '/user/me/preference/')
    if (res.statusCode !== 200) t.fail(`request ${i}: ${res.statusCode}`)
    t.equal(res.headers['x-ratelimit-limit'], undefined, `request ${i}: no rate limit headers`)
  }
})

t.test('rate limit: per caller; 429 PREFERENCE_RATE_LIMITED with Retry-After; writes refused change nothing', async (t) => {
  t.equal(ERROR_CODES.PREFERENCE_RATE_LIMITED, 429)
  const { app, rows } = await build(t, { plugin: { rateLimit: { max: 3, timeWindow: 60_000 } } })
  const one = client(app, token(1))
  // Requests without a valid token are answered 401 before they count.
  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/user/1/preference/` })).statusCode, 401)
    t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/user/1/preference/`, headers: bearer(`${token(1)}x`) })).statusCode, 401)
  }
  const first = await one.create('a', 1)
  t.equal(first.statusCode, 201)
  t.equal(first.headers['x-ratelimit-limit'], '3')
  t.equal(first.headers['x-ratelimit-remaining'], '2')
  t.equal((await one.request('GET', '/user/1/preference/')).statusCode, 200)
  t.equal((await one.request('GET', '/user/me/preference/')).statusCode, 200, 'me and 1 are one caller')
  const before = await rows()

  const limited = await one.create('b', 2)
  t.equal(limited.statusCode, 429)
  t.same(limited.json(), {
    statusCode: 429,
    code: 'PREFERENCE_RATE_LIMITED',
    error: 'Too Many Requests',
    message: limited.json().message
  }, 'the plugin\'s error shape')
  t.match(limited.json().message, /retry in \d+ (second|minute)/i)
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After in seconds (${limited.headers['retry-after']})`)
  t.equal((await one.request('GET', '/user/1/preference/')).statusCode, 429, 'reads too')
  t.equal((await one.request('DELETE', `/user/1/preference/${first.json().id}/`)).statusCode, 429, 'deletes too')
  t.same(await rows(), before, 'nothing changed')

  // Another caller has a budget of its own, admins included.
  t.equal((await client(app, token(2)).create('b', 2)).statusCode, 201, 'user 2 is not limited by user 1')
  t.equal((await client(app, token({ sub: 3, roles: ['admin'] })).request('GET', '/user/1/preference/')).statusCode, 200)
})

t.test('rate limit: the budget comes back after timeWindow', async (t) => {
  const { app } = await build(t, { plugin: { rateLimit: { max: 2, timeWindow: 400 } } })
  const c = client(app, token(1))
  t.equal((await c.request('GET', '/user/me/preference/')).statusCode, 200)
  t.equal((await c.request('GET', '/user/me/preference/')).statusCode, 200)
  t.equal((await c.request('GET', '/user/me/preference/')).statusCode, 429)
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.equal((await c.request('GET', '/user/me/preference/')).statusCode, 200, 'allowed again')
})

t.test('rate limit: wrong options fail registration', async (t) => {
  for (const rateLimit of [{ max: 0 }, { max: -1 }, { max: 1.5 }, {}, { max: 5, timeWindow: 0 }, { max: 5, timeWindow: '1 minute' }, null, 5, true]) {
    await t.rejects(build(t, { plugin: { rateLimit: rateLimit as never } }), { code: 'PREFERENCE_INVALID_OPTION', message: /rateLimit/ },
      JSON.stringify(rateLimit))
  }
  const { app } = await build(t, { plugin: { rateLimit: false } })
  t.equal((await client(app, token(1)).request('GET', '/user/me/preference/')).statusCode, 200, 'false: off')
})

t.test('RATE_LIMIT_PER_MINUTE', async (t) => {
  t.equal(loadConfig({}).rateLimitPerMinute, undefined, 'unset: no limit')
  t.equal(loadConfig({ RATE_LIMIT_PER_MINUTE: '' }).rateLimitPerMinute, undefined, 'empty: no limit')
  t.equal(loadConfig({ RATE_LIMIT_PER_MINUTE: '120' }).rateLimitPerMinute, 120)
  for (const bad of ['0', '-5', '1.5', 'ten', '1e3', '99999999999999999999']) {
    t.throws(() => loadConfig({ RATE_LIMIT_PER_MINUTE: bad }), { code: 'PREFERENCE_INVALID_CONFIG', message: /RATE_LIMIT_PER_MINUTE/ }, bad)
  }
})

t.test('MAX_PREFERENCES_PER_USER', async (t) => {
  t.equal(loadConfig({}).maxPreferencesPerUser, undefined, 'unset: the plugin default')
  t.equal(loadConfig({ MAX_PREFERENCES_PER_USER: '' }).maxPreferencesPerUser, undefined, 'empty: the plugin default')
  t.equal(loadConfig({ MAX_PREFERENCES_PER_USER: '50000' }).maxPreferencesPerUser, 50000)
  for (const bad of ['0', '-5', '1.5', 'many', '1e3', '99999999999999999999']) {
    t.throws(() => loadConfig({ MAX_PREFERENCES_PER_USER: bad }), { code: 'PREFERENCE_INVALID_CONFIG', message: /MAX_PREFERENCES_PER_USER/ }, bad)
  }
})

t.test('RATE_LIMIT_PER_MINUTE on the real server: the third request of a minute is a 429', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: childEnv({ PORT: '0', JWT_SECRET: SECRET, DATABASE_URL: await freshDatabaseUrl(t), RATE_LIMIT_PER_MINUTE: '2' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise((resolve) => child.once('close', resolve))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  let stdout = ''
  child.stdout.setEncoding('utf8')
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 30 s: ${stdout}`)), 30_000)
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)
      if (match !== null) { clearTimeout(timer); resolve(match[1]) }
    })
    child.once('close', () => { clearTimeout(timer); reject(new Error(`exited: ${stdout}`)) })
  })
  const get = () => fetch(`${base}${PREFIX}/user/me/preference/`, { headers: bearer(token(5)), signal: AbortSignal.timeout(10_000) })
  t.equal((await get()).status, 200)
  t.equal((await get()).status, 200)
  const third = await get()
  t.equal(third.status, 429)
  t.match(await third.json(), { statusCode: 429, code: 'PREFERENCE_RATE_LIMITED' })
  t.ok(Number(third.headers.get('retry-after')) > 0, 'Retry-After')
  const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(10_000) })
  t.equal(health.status, 200, 'the health check is not limited')
})
