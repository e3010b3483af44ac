import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSigner, createVerifier } from 'fast-jwt'
import t from 'tap'
import type { Test } from 'tap'
import { childEnv } from './child-env.js'

// End to end: the real `server/main.ts` in a child process, spoken to over HTTP.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const START_TIMEOUT = 30_000
const EXIT_TIMEOUT = 10_000

/** The environment without anything of ours that the server reads. */
interface Exit { code: number | null, signal: NodeJS.Signals | null }

class Child {
  stdout = ''
  stderr = ''
  readonly exited: Promise<Exit>
  private waiters: Array<() => void> = []

  constructor (readonly process: ChildProcessWithoutNullStreams) {
    process.stdout.setEncoding('utf8').on('data', (chunk: string) => { this.stdout += chunk; this.wake() })
    process.stderr.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk; this.wake() })
    this.exited = new Promise((resolve) => {
      process.on('close', (code, signal) => { resolve({ code, signal }); this.wake() })
    })
  }

  private wake (): void {
    for (const waiter of this.waiters.splice(0)) waiter()
  }

  get running (): boolean {
    return this.process.exitCode === null && this.process.signalCode === null
  }

  /** Resolves with the first match of `pattern` in stdout; rejects on exit or timeout. */
  async waitFor (pattern: RegExp, timeoutMs = START_TIMEOUT): Promise<RegExpMatchArray> {
    let match: RegExpMatchArray | null = null
    await this.waitUntil(() => (match = this.stdout.match(pattern)) !== null, String(pattern), timeoutMs)
    return match as unknown as RegExpMatchArray
  }

  /** Resolves once `check()` is true; rejects when the process exits first or on timeout. */
  async waitUntil (check: () => boolean, what: string, timeoutMs = START_TIMEOUT): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (check()) return
      if (!this.running) throw new Error(`exited before printing ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /** The exit, or a rejection if there is none within `timeoutMs`. */
  async exit (timeoutMs = EXIT_TIMEOUT): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Starts a TypeScript entry point of the repository; it is killed when the test ends. */
function run (t: Test, args: string[], env: Record<string, string>): Child {
  const child = new Child(spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe']
  }))
  t.after(async () => {
    if (child.running) {
      child.process.kill('SIGKILL')
      await child.exit().catch(() => {})
    }
  })
  return child
}

interface Server { child: Child, base: string }

/** Starts server/main.ts on a free port and waits until it listens. */
async function startServer (t: Test, env: Record<string, string>): Promise<Server> {
  const child = run(t, ['server/main.ts'], { PORT: '0', LOG_LEVEL: 'info', ...env })
  const [, base] = await child.waitFor(/"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/)
  return { child, base }
}

/** fetch with a deadline. */
async function get (url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
}

const auth = (tok: string) => ({ authorization: `Bearer ${tok}` })

async function runToEnd (t: Test, args: string[], env: Record<string, string> = {}): Promise<Exit & { stdout: string, stderr: string }> {
  const child = run(t, args, env)
  const exit = await child.exit(START_TIMEOUT)
  return { ...exit, stdout: child.stdout, stderr: child.stderr }
}

interface CurlLine { url: string, token: string, body: string }

/** The curl line a start without JWT_SECRET prints, and the token printed above it. */
async function curlLine (t: Test, child: Child, base: string): Promise<CurlLine> {
  const [, url, curlToken, body] = await child.waitFor(/curl -i -X PUT (\S+) -H 'Authorization: Bearer ([\w-]+\.[\w-]+\.[\w-]+)' -H 'Content-Type: application\/json' -d '(.+)'/)
  const [, printed] = await child.waitFor(/A token for user 1[^\n]*\n\s+([\w-]+\.[\w-]+\.[\w-]+)\s*\n/)
  t.equal(curlToken, printed, 'the curl line uses the printed token')
  t.equal(url, `${base}/api/v2/user/me/preference/by-key/theme/`, 'the curl line targets the running server')
  t.match(child.stdout, /201 Created the first time, 200 OK after that/, 'it says what to expect')
  return { url, token: printed, body }
}

/** What the curl line does, over HTTP. */
const runCurl = async (curl: CurlLine): Promise<Response> =>
  get(curl.url, { method: 'PUT', headers: { ...auth(curl.token), 'content-type': 'application/json' }, body: curl.body })

t.test('without JWT_SECRET: a ready token and curl line, the API, health, docs, SIGTERM', async (t) => {
  const database = join(t.testdir({}), 'db', 'prefs.sqlite')
  const { child, base } = await startServer(t, { DATABASE_URL: database })

  const curl = await curlLine(t, child, base)
  const printed = curl.token
  t.match(child.stdout, /"level":40,[^\n]*JWT_SECRET/, 'a warning says the secret is random')

  // The settings page's link: signed in by the same token, in the fragment (never sent).
  const [, link, linkToken] = await child.waitFor(/The settings page, signed in as user 1:\n\s+(\S+)#token=([\w-]+\.[\w-]+\.[\w-]+)\n/)
  t.equal(link, `${base}/settings/`)
  t.equal(linkToken, printed, 'the printed token')
  const settings = await get(link)
  t.equal(settings.status, 200)
  t.match(await settings.text(), /<script type="module" src="app.js">/)
  t.equal((await get(`${link}app.js`)).status, 200, 'its script, bundled from the sources')

  const created = await runCurl(curl)
  t.equal(created.status, 201)
  const preference = await created.json() as { id: number, user_id: number, key: string, value: unknown, created_at: string }
  t.match(preference, { user_id: 1, key: 'theme', value: { mode: 'dark' } })
  const location = created.headers.get('location')
  t.equal(location, `/api/v2/user/1/preference/${preference.id}/`)

  const fetched = await get(new URL(location ?? '', base).href, { headers: auth(printed) })
  t.equal(fetched.status, 200)
  t.same(await fetched.json(), preference)
  const again = await runCurl(curl)
  t.equal(again.status, 200, 'pasted twice: 200')
  t.match(await again.json(), { id: preference.id, user_id: 1, key: 'theme', value: { mode: 'dark' }, created_at: preference.created_at })

  const anonymous = await get(`${base}/api/v2/user/me/preference/`)
  t.equal(anonymous.status, 401, 'the API needs a token')
  t.match(anonymous.headers.get('www-authenticate'), /^Bearer/)

  const health = await get(`${base}/health`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })

  const docs = await get(`${base}/documentation/json`)
  t.equal(docs.status, 200)
  const openapi = await docs.json() as { openapi: string, paths: Record<string, unknown> }
  t.match(openapi.openapi, /^3\./)
  t.ok(openapi.paths['/api/v2/user/{user_id}/preference/'], 'the collection is documented')
  t.ok(openapi.paths['/api/v2/user/{user_id}/preference/{id}/'], 'the item is documented')

  const ui = await get(`${base}/documentation`)
  t.equal(ui.status, 200, 'the interactive UI is served')
  t.match(ui.headers.get('content-type'), /text\/html/)

  t.ok(child.process.kill('SIGTERM'))
  t.same(await child.exit(), { code: 0, signal: null }, 'SIGTERM: a clean exit')
  t.match(child.stdout, /"signal":"SIGTERM"/)
  t.ok(existsSync(database), 'the database file is where DATABASE_URL says')
  t.notOk(existsSync(`${database}-wal`), 'the database was closed (SQLite removed its WAL file)')

  // The second start prints a new secret and token; its curl line works too (the key exists).
  const second = await startServer(t, { DATABASE_URL: database })
  const secondCurl = await curlLine(t, second.child, second.base)
  t.not(secondCurl.token, printed, 'a new token')
  const replaced = await runCurl(secondCurl)
  t.equal(replaced.status, 200, 'the second start\'s curl line succeeds')
  t.match(await replaced.json(), { id: preference.id, user_id: 1, key: 'theme', value: { mode: 'dark' }, created_at: preference.created_at })
  second.child.process.kill('SIGTERM')
  t.same(await second.child.exit(), { code: 0, signal: null })
})

t.test('with JWT_SECRET: no token printed; the token command makes working tokens', async (t) => {
  const secret = 's3cret'
  const database = join(t.testdir({}), 'prefs.sqlite')
  const { child, base } = await startServer(t, { DATABASE_URL: database, JWT_SECRET: secret })

  const made = await runToEnd(t, ['server/token-command.ts', '--sub', '3', '--admin', '--secret', secret])
  t.equal(made.code, 0, `token command (stderr: ${made.stderr})`)
  const adminToken = made.stdout.trim()
  t.match(adminToken, /^[\w-]+\.[\w-]+\.[\w-]+$/)

  const created = await get(`${base}/api/v2/user/5/preference/`, {
    method: 'POST', headers: { ...auth(adminToken), 'content-type': 'application/json' }, body: JSON.stringify({ key: 'lang', value: 'fr' })
  })
  t.equal(created.status, 201, 'an admin (user 3) acts for user 5')
  t.match(await created.json(), { user_id: 5, key: 'lang', value: 'fr' })

  const list = await get(`${base}/api/v2/user/5/preference/?key=lang`, { headers: auth(adminToken) })
  t.equal(list.status, 200)
  t.match(await list.json(), { count: 1, results: [{ user_id: 5, key: 'lang', value: 'fr' }] })

  // The secret may also come from JWT_SECRET; without --admin the token is user 3's only.
  const plain = await runToEnd(t, ['server/token-command.ts', '--sub', '3'], { JWT_SECRET: secret })
  t.equal(plain.code, 0, `token command (stderr: ${plain.stderr})`)
  const userToken = plain.stdout.trim()
  t.equal((await get(`${base}/api/v2/user/5/preference/`, { headers: auth(userToken) })).status, 403)
  t.equal((await get(`${base}/api/v2/user/3/preference/`, { headers: auth(userToken) })).status, 200)

  // --group puts the groups claim in, which the server's groupsOf reads: a member reads the group's defaults.
  const member = await runToEnd(t, ['server/token-command.ts', '--sub', '4', '--group', 'staff', '--group', 'design'], { JWT_SECRET: secret })
  const memberToken = member.stdout.trim()
  t.same(JSON.parse(Buffer.from(memberToken.split('.')[1], 'base64url').toString()).groups, ['staff', 'design'])
  t.equal((await get(`${base}/api/v2/preference-defaults/design/`, { headers: auth(memberToken) })).status, 200)
  t.equal((await get(`${base}/api/v2/preference-defaults/design/`, { headers: auth(userToken) })).status, 403)

  const other = await runToEnd(t, ['server/token-command.ts', '--sub', '3', '--admin', '--secret', 'not-the-secret'])
  t.equal((await get(`${base}/api/v2/user/5/preference/`, { headers: auth(other.stdout.trim()) })).status, 401,
    'a token signed with another secret is refused')

  // Start-up printed everything it prints before the server answered a request, so once a
  // request's log line is in, so is any token or curl line.
  await child.waitFor(/"msg":"request completed"/, 15_000)
  t.notMatch(child.stdout, /A token for user/)
  t.notMatch(child.stdout, /curl /)
  t.match(child.stdout, `The settings page: ${base}/settings/#token=<a token> (make one with: npm run token -- --sub <user id>)`)
  t.notMatch(child.stdout, /JWT_SECRET is not set/)
  t.notMatch(child.stdout + child.stderr, secret, 'the secret is never printed')

  child.process.kill('SIGTERM')
  t.same(await child.exit(), { code: 0, signal: null })
})

t.test('MAX_PREFERENCES_PER_USER: the server holds each user to it', async (t) => {
  const secret = 'a-secret-for-the-limit-test'
  const { child, base } = await startServer(t, {
    DATABASE_URL: join(t.testdir({}), 'prefs.sqlite'), JWT_SECRET: secret, MAX_PREFERENCES_PER_USER: '2'
  })
  const userToken = createSigner({ key: secret })({ sub: 7 })
  const create = async (key: string) => get(`${base}/api/v2/user/7/preference/`, {
    method: 'POST', headers: { ...auth(userToken), 'content-type': 'application/json' }, body: JSON.stringify({ key, value: 1 })
  })
  t.equal((await create('a')).status, 201)
  t.equal((await create('b')).status, 201)
  const third = await create('c')
  t.equal(third.status, 409, 'the third is one past the limit of 2 (the default is 1,000)')
  t.match(await third.json(), { code: 'PREFERENCE_LIMIT_REACHED' })
  child.process.kill('SIGTERM')
  t.same(await child.exit(), { code: 0, signal: null })
})

t.test('npm run token and npm run migrate run the sources: no build, dist/ untouched', async (t) => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  for (const name of ['token', 'migrate']) {
    t.equal(scripts[name], `node --import tsx server/${name}-command.ts`, `npm run ${name}`)
  }
  // As a user types it: npm, the script, its arguments.
  const child = new Child(spawn('npm', ['run', '-s', 'token', '--', '--sub', '4', '--admin', '--secret', 'npm-run-token-secret'], {
    cwd: ROOT, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe']
  }))
  t.same(await child.exit(START_TIMEOUT), { code: 0, signal: null }, `npm run token (stderr: ${child.stderr})`)
  const claims = createVerifier({ key: 'npm-run-token-secret' })(child.stdout.trim()) as Record<string, unknown>
  t.match(claims, { sub: '4', roles: ['admin'] }, 'a token of user 4, an admin, signed with --secret')
})

interface RawResponse { status: number, headers: IncomingHttpHeaders, body: string }

t.test('SIGTERM lets an in-flight request finish; the data survives a restart', async (t) => {
  const secret = 'restart-secret-that-is-long-enough'
  const database = join(t.testdir({}), 'prefs.sqlite')
  const made = await runToEnd(t, ['server/token-command.ts', '--sub', '9', '--secret', secret])
  const tok = made.stdout.trim()
  const { child, base } = await startServer(t, { DATABASE_URL: database, JWT_SECRET: secret })

  const before = await get(`${base}/api/v2/user/me/preference/`, {
    method: 'POST', headers: { ...auth(tok), 'content-type': 'application/json' }, body: JSON.stringify({ key: 'before', value: [1, 2, 3] })
  })
  t.equal(before.status, 201)
  const beforeId = (await before.json() as { id: number }).id

  // A request whose body is still on its way when SIGTERM arrives, from a client that keeps
  // connections alive (as browsers and most HTTP clients do).
  const agent = new Agent({ keepAlive: true })
  t.after(() => agent.destroy())
  const body = JSON.stringify({ key: 'in-flight', value: { written: 'during shutdown' } })
  const url = new URL(`${base}/api/v2/user/me/preference/`)
  // A query string of its own, so that the server's log line for this request can be told
  // from the one before (the route has no query schema: it is ignored).
  const path = `${url.pathname}?in-flight=1`
  const inFlight: { finish?: () => void } = {}
  const response = new Promise<RawResponse>((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path,
      method: 'POST',
      agent,
      headers: { ...auth(tok), 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: 15_000
    }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('in-flight request timed out')))
    req.on('error', reject)
    req.write(body.slice(0, 10))
    inFlight.finish = () => req.end(body.slice(10))
  })
  // The server has this very request: it logs it before reading the body, and past the point
  // where a closing server answers 503. (Counting "incoming request" lines raced: the line of
  // the request before can reach this process after its response, and then counted for this
  // one, so SIGTERM could arrive before the server had it, and it was a 503.)
  await child.waitUntil(() => child.stdout.split('\n').some((line) =>
    line.includes('"msg":"incoming request"') && line.includes(`"url":"${path}"`)), 'the in-flight request', 10_000)
  // ...when it is told to stop.
  child.process.kill('SIGTERM')
  await child.waitFor(/"signal":"SIGTERM"/, 10_000)
  t.ok(child.running, 'still running while the request is unfinished')
  inFlight.finish?.()

  const answered = await response
  t.equal(answered.status, 201, `the in-flight request was answered (${answered.body})`)
  const inFlightId = (JSON.parse(answered.body) as { id: number }).id
  const answeredAt = Date.now()
  // The server's own deadline is 10 s after the signal (then it exits 1): a graceful close
  // must not wait for the client to drop its idle keep-alive connection.
  // (Waits past that deadline, to tell a forced exit from a hang.)
  t.same(await child.exit(15_000), { code: 0, signal: null }, 'then a clean exit')
  t.ok(Date.now() - answeredAt < 9_000, `exited promptly after the last response (${Date.now() - answeredAt} ms)`)
  t.notOk(existsSync(`${database}-wal`), 'the database was closed (SQLite removed its WAL file)')

  const restarted = await startServer(t, { DATABASE_URL: database, JWT_SECRET: secret })
  const list = await get(`${restarted.base}/api/v2/user/me/preference/`, { headers: auth(tok) })
  t.equal(list.status, 200)
  t.match(await list.json(), {
    count: 2,
    results: [
      { id: beforeId, user_id: 9, key: 'before', value: [1, 2, 3] },
      { id: inFlightId, user_id: 9, key: 'in-flight', value: { written: 'during shutdown' } }
    ]
  }, 'both writes are still there after the restart')
  t.match(restarted.child.stdout, /"msg":"Server listening at/)
  t.notMatch(restarted.child.stdout, /"status":"Success"/, 'no migration ran again')

  restarted.child.process.kill('SIGINT')
  t.same(await restarted.child.exit(), { code: 0, signal: null }, 'Ctrl-C (SIGINT) also exits cleanly')
})

t.test('bad configuration: a message and a non-zero exit', async (t) => {
  const dir = t.testdir({})

  for (const port of ['abc', '70000']) {
    const bad = await runToEnd(t, ['server/main.ts'], { PORT: port, DATABASE_URL: join(dir, 'never.sqlite') })
    t.not(bad.code, 0, `PORT=${port} fails`)
    t.equal(bad.signal, null, 'it exits by itself, not by a signal')
    t.match(bad.stderr, /PORT/, 'the message names PORT')
    t.match(bad.stderr, port)
    t.notMatch(bad.stdout, /Server listening/)
  }

  const level = await runToEnd(t, ['server/main.ts'], { PORT: '0', LOG_LEVEL: 'loud', DATABASE_URL: join(dir, 'never.sqlite') })
  t.not(level.code, 0, 'LOG_LEVEL=loud fails')
  t.match(level.stderr, /LOG_LEVEL/)

  // A registry whose default breaks its own schema stops the start, naming the key.
  const keysFile = join(dir, 'keys.json')
  writeFileSync(keysFile, JSON.stringify({ theme: { schema: { enum: ['light', 'dark'] }, default: 'blue' } }))
  const keys = await runToEnd(t, ['server/main.ts'], { PORT: '0', KEYS_FILE: keysFile, DATABASE_URL: join(dir, 'never.sqlite') })
  t.not(keys.code, 0, 'a bad KEYS_FILE fails')
  t.match(keys.stderr, /keys\["theme"\]\.default does not match its schema.*\(check KEYS_FILE\)/)
  t.notMatch(keys.stdout, /Server listening/)

  const mysql = await runToEnd(t, ['server/main.ts'], { PORT: '0', DATABASE_URL: 'mysql://x' })
  t.not(mysql.code, 0, 'DATABASE_URL=mysql://x fails')
  t.equal(mysql.signal, null)
  t.match(mysql.stderr, /unsupported URL scheme/)
  t.match(mysql.stderr, /mysql:\/\//)
  t.notMatch(mysql.stdout, /Server listening/)
  t.notMatch(mysql.stdout, /A token for user/)
})
