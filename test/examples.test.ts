import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createSigner } from 'fast-jwt'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Test } from 'tap'
import { run } from '../examples/client.js'
import { build } from '../examples/host-app.js'
import { attachContract } from './contract.js'
import { bearer, freshDatabaseUrl, PREFIX, token } from './helper.js'
import { childEnv } from './child-env.js'

// The examples are run, so that they cannot rot: the host in-process and both as the README
// tells people to run them.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const HOST_SECRET = 'the-example-host-secret-long-enough'

interface Child { process: ChildProcess, output: () => string, exited: Promise<number | null> }

function start (t: Test, file: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { process: child, output: () => output, exited }
}

async function waitFor (child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const match = pattern.exec(child.output())
    if (match !== null) return match
    if (child.process.exitCode !== null) throw new Error(`exited before ${pattern}: ${child.output()}`)
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms: ${child.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function within<T> (promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no end within ${timeoutMs} ms`)), timeoutMs)
    })])
  } finally {
    clearTimeout(timer)
  }
}

t.test('examples/host-app.ts: the host\'s tokens work on the plugin; the host\'s document has both', async (t) => {
  const app = await build({ jwtSecret: HOST_SECRET, database: await freshDatabaseUrl(t) })
  t.after(() => app.close())
  await app.ready()
  attachContract(app, (problem) => t.fail(`contract: ${problem}`))

  const user4 = bearer(app.jwt.sign({ uid: 4 }))
  const created = await app.inject({ method: 'POST', url: `${PREFIX}/user/me/preference/`, headers: user4, payload: { key: 'k', value: [1] } })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { user_id: 4, key: 'k', value: [1] })
  t.same((await app.inject({ url: '/hello', headers: user4 })).json(), { hello: 4 }, 'the host\'s own route')

  const staff = bearer(app.jwt.sign({ uid: 9, staff: true }))
  t.equal((await app.inject({ url: `${PREFIX}/user/4/preference/`, headers: staff })).statusCode, 200, 'staff are admins')
  t.equal((await app.inject({ url: `${PREFIX}/user/4/preference/`, headers: bearer(app.jwt.sign({ uid: 5 })) })).statusCode, 403)
  const foreign = await app.inject({ url: `${PREFIX}/user/4/preference/`, headers: bearer(token(4)) })
  t.equal(foreign.statusCode, 401, 'a token the host did not sign')
  t.equal(foreign.json().code, 'PREFERENCE_AUTH_INVALID')

  const doc = app.swagger() as { paths: Record<string, unknown> }
  t.ok(doc.paths['/hello'] && doc.paths[`${PREFIX}/user/{user_id}/preference/`], 'one document for the host and the plugin')
})

t.test('both examples as people run them: the host, then the client against it', async (t) => {
  const host = start(t, 'examples/host-app.ts', { PORT: '0', JWT_SECRET: HOST_SECRET, DATABASE_URL: await freshDatabaseUrl(t) })
  const [, address] = await waitFor(host, /Example host at (http:\/\/127\.0\.0\.1:\d+)/, 30_000)
  const [, hostToken] = await waitFor(host, /A token for user 1: ([\w-]+\.[\w-]+\.[\w-]+)/, 10_000)

  const client = start(t, 'examples/client.ts', { PREFERENCES_URL: `${address}/api/v2`, TOKEN: hostToken })
  t.equal(await within(client.exited, 30_000, 'examples/client.ts'), 0, `the client example succeeds: ${client.output()}`)
  t.same(client.output().trim().split('\n').map((line) => line.replace(/#\d+/, '#N')), [
    'created "theme" (#N) for user 1',
    'changed "theme" to {"mode":"light"}',
    '"visits" is now 1',
    'a second "language" is refused: 409 PREFERENCE_KEY_EXISTS',
    'merged: set language; deleted visits',
    'user 1 has 2 preferences: theme, language',
    'the list is unchanged (304)',
    'deleted "theme"'
  ])

  // The example's run() in-process, for user 2 (a token as the host signs them).
  const lines: string[] = []
  const user2 = createSigner({ key: HOST_SECRET, expiresIn: 600_000 })({ uid: 2 })
  const left = await run({ baseUrl: `${address}/api/v2`, token: user2, log: (line) => lines.push(line) })
  t.equal(lines.length, 8)
  t.match(lines[0], /created "theme" \(#\d+\) for user 2/)
  t.same(left.map((p) => [p.user_id, p.key, p.value]), [[2, 'language', 'en']], 'what it leaves behind')
  // User 1's language is still there: running it again for user 1 stops at its first create.
  await t.rejects(run({ baseUrl: `${address}/api/v2`, token: hostToken, log: () => {} }), { code: 'PREFERENCE_KEY_EXISTS', status: 409 })

  const docs = await fetch(`${address}/documentation/json`, { signal: AbortSignal.timeout(10_000) })
  t.equal(docs.status, 200, 'the host serves its document')

  const missing = start(t, 'examples/client.ts', { PREFERENCES_URL: `${address}/api/v2`, TOKEN: '' })
  t.not(await within(missing.exited, 30_000, 'examples/client.ts without a token'), 0, 'a rejected token is a failure')

  host.process.kill('SIGTERM')
  t.equal(await within(host.exited, 10_000, 'the host after SIGTERM'), 0, 'the host stops cleanly')
})
