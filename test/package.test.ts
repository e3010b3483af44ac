import { type ChildProcess, spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Test } from 'tap'
import { freshDatabaseUrl, SECRET, token } from './helper.js'
import { childEnv } from './child-env.js'

// The package as a user gets it: `npm pack`, installed into a new application outside the
// repository, imported by plain ESM JavaScript, run with node and spoken to over HTTP. Whatever
// the tarball lacks (a file, a dependency, a type) fails here.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const NPM_TIMEOUT = 180_000

t.setTimeout(360_000)

interface Ran { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs a command to its end, killed after `timeoutMs` or when the test ends. */
async function run (t: Test, command: string, args: string[], options: { cwd: string, env?: NodeJS.ProcessEnv, timeoutMs: number }): Promise<Ran> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (c, s) => resolve([c, s]))
    })
    return { code, signal, stdout, stderr }
  } finally {
    clearTimeout(timer)
  }
}

function ok (t: Test, ran: Ran, what: string): void {
  t.equal(ran.code, 0, `${what} (stdout: ${ran.stdout.slice(-2000)}\nstderr: ${ran.stderr.slice(-2000)})`)
}

/**
 * better-sqlite3 installs a prebuilt binary, which it would download: this machine has no
 * network beyond the package registry, and compiling it takes a minute. prebuild-install's own
 * offline mechanism (a local prebuilds folder) gets it the binary this repository's install
 * built, when the version matches; otherwise it compiles, slowly but just the same.
 */
function localPrebuilds (t: Test, dir: string): Promise<Ran> {
  const modulePath = dirname(require.resolve('better-sqlite3/package.json'))
  const { version } = JSON.parse(readFileSync(join(modulePath, 'package.json'), 'utf8')) as { version: string }
  const staging = join(dir, 'staging')
  mkdirSync(join(staging, 'build', 'Release'), { recursive: true })
  copyFileSync(join(modulePath, 'build', 'Release', 'better_sqlite3.node'), join(staging, 'build', 'Release', 'better_sqlite3.node'))
  mkdirSync(join(dir, 'prebuilds'))
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`
  return run(t, 'tar', ['-czf', join(dir, 'prebuilds', name), '-C', staging, 'build'], { cwd: dir, timeoutMs: 30_000 })
}

/** Every file under `dir`, relative to it. */
function filesUnder (dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
}

/** True when a declaration file augments Fastify (a `declare module 'fastify'` block, or one of the plugin's members). */
function augmentsFastify (source: string): boolean {
  return /declare\s+module\s+['"]fastify['"]/.test(source) ||
    /\b(preferencesDb|preferencesStore|preferencesCaller|preferencesClaims|preferencesUserId|preferenceId|preferenceKey|preferenceScope)\s*:/.test(source.replace(/interface PreferencesRequest [^]*?\n\}/, ''))
}

const HOST = `
import Fastify from 'fastify'
import preferences, { preferencesOpenapi } from 'fastify-user-preferences'

const app = Fastify({ logger: false })
app.get('/status', async () => ({ up: true, tags: preferencesOpenapi.tags.map((tag) => tag.name) }))
await app.register(preferences, { prefix: '/api/v2', auth: { secret: process.env.JWT_SECRET }, database: process.env.DATABASE_URL })
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(JSON.stringify({ address }) + '\\n')
process.on('SIGTERM', () => { app.close().then(() => process.exit(0)) })
`

const CLIENT = `
import { createPreferencesClient, PreferencesApiError } from 'fastify-user-preferences/client'

const client = createPreferencesClient({ baseUrl: process.env.BASE_URL, token: process.env.TOKEN })
const listed = await client.list({ key: 'theme' })
let error
try {
  await client.create({ key: 'theme', value: 'again' })
} catch (e) {
  error = { isApiError: e instanceof PreferencesApiError, status: e.status, code: e.code }
}
process.stdout.write(JSON.stringify({ listed, error }) + '\\n')
`

// Types as a TypeScript host sees them: the plugin's options, the client, and nothing the
// plugin sets only inside its own context promised on the host's.
const TYPES = `
import Fastify from 'fastify'
import preferences, { type GroupsOf, type PreferencesPluginOptions, type Preference } from 'fastify-user-preferences'
import { createPreferencesClient, type PreferencesClient } from 'fastify-user-preferences/client'

const app = Fastify()
// The request the plugin hands groupsOf is authenticated: the caller and the claims are there.
const groupsOf: GroupsOf = (userId, request) => {
  const groups = request?.preferencesClaims.groups
  return request?.preferencesCaller.id === userId && Array.isArray(groups) ? groups.map(String) : []
}
const options: PreferencesPluginOptions = { auth: { verify: 'host-jwt' }, database: ':memory:', groupsOf }
app.register(preferences, { prefix: '/api/v2', ...options })
app.get('/who', async (request) => {
  // @ts-expect-error: the plugin's request fields are set on its own routes only
  const caller: unknown = request.preferencesCaller
  // @ts-expect-error: the same
  const user: unknown = request.preferencesUserId
  // @ts-expect-error: the plugin's database is decorated inside its own context only
  const db: unknown = app.preferencesDb
  // @ts-expect-error: nor its store
  const store: unknown = app.preferencesStore
  return { caller, user, db, store }
})
const client: PreferencesClient = createPreferencesClient({ baseUrl: 'http://localhost/api/v2' })
export const first: Promise<Preference> = client.getById(1)
export const byKey: Promise<Preference | undefined> = client.get('theme')
// @ts-expect-error: get takes a key; an id goes to getById
client.get(1)
// @ts-expect-error: a key is a string
client.create({ key: 5, value: 1 })
`

t.test('npm pack, installed in a new app outside the repository, served over HTTP', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prefs-package-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))

  // The tarball, built by prepare, which also builds a git install (npm runs it for git URLs).
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.equal(scripts.prepare, 'npm run -s build', 'prepare builds dist/')
  t.notOk('prepack' in scripts, 'and nothing builds a second time on npm pack')
  const packed = await run(t, 'npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, timeoutMs: NPM_TIMEOUT })
  ok(t, packed, 'npm pack')
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = info.files.map((f) => f.path)
  for (const needed of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/client/index.js', 'dist/client/index.d.ts',
    'dist/plugins/authenticate.d.ts', 'dist/plugins/store.d.ts', 'dist/store/preference-store.d.ts', 'dist/db/migrations/2026-11-28-01-create-user-preference.js']) {
    t.ok(files.includes(needed), `the tarball has ${needed}`)
  }
  // The declarations augment nothing of Fastify's: what the plugin decorates or sets on requests
  // exists only inside its encapsulated context (plugins/fastify-internal.d.ts, not shipped).
  const declarations = files.filter((f) => f.endsWith('.d.ts'))
  t.same(declarations.filter((f) => augmentsFastify(readFileSync(join(ROOT, f), 'utf8'))), [], 'no .d.ts augments Fastify\'s types')
  t.notOk(files.includes('dist/plugins/fastify-internal.d.ts'), 'the internal declarations are not in the package')
  t.ok(augmentsFastify(readFileSync(join(ROOT, 'plugins', 'fastify-internal.d.ts'), 'utf8')), 'the check finds them where they are (it can fail)')
  const devOnly = files.filter((f) => /^(test|scripts|examples|bench|\.ci)\/|^dist\/(test|scripts|examples|server|bench)\b|\.tsbuildinfo$|(?<!\.d)\.ts$/.test(f))
  t.same(devOnly, [], 'nothing dev-only: no tests, scripts, examples, standalone server or TypeScript sources')

  // Every module the shipped code imports is a dependency, a peer (fastify; ioredis, optional,
  // for limits shared across instances) or Node's own.
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>
    peerDependencies: Record<string, string>
    peerDependenciesMeta: Record<string, { optional?: boolean }>
  }
  const declared = new Set([...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies)])
  t.same(Object.keys(manifest.peerDependencies).sort(), ['fastify', 'ioredis'])
  t.same(manifest.peerDependenciesMeta, { ioredis: { optional: true } }, 'ioredis only for those who share limits')
  t.notOk('fastify' in manifest.dependencies, 'fastify is the host\'s, not a dependency')
  for (const file of files.filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
    const source = readFileSync(join(ROOT, file), 'utf8')
    for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*'([^'.][^']*)'/g)) {
      if (specifier.startsWith('node:')) continue
      const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]
      t.ok(declared.has(name), `${file} imports ${specifier}: declared`)
    }
  }

  // A fresh host application.
  const app = join(dir, 'host')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'a-host', private: true, type: 'module' }))
  ok(t, await localPrebuilds(t, dir), 'the local prebuild')
  const installed = await run(t, 'npm', ['install', join(dir, info.filename), 'fastify@5', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: app,
    env: childEnv({ npm_config_better_sqlite3_local_prebuilds: join(dir, 'prebuilds') }),
    timeoutMs: NPM_TIMEOUT
  })
  ok(t, installed, 'npm install of the tarball')
  const installedFiles = filesUnder(join(app, 'node_modules', 'fastify-user-preferences'))
  t.notOk(installedFiles.some((f) => f.startsWith('test')), 'no tests installed')

  writeFileSync(join(app, 'host.mjs'), HOST)
  writeFileSync(join(app, 'client.mjs'), CLIENT)
  const database = await freshDatabaseUrl(t)
  const server: ChildProcess = spawn(process.execPath, ['host.mjs'], {
    cwd: app, env: childEnv({ JWT_SECRET: SECRET, DATABASE_URL: database }), stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => { if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL') })
  let out = ''
  let err = ''
  server.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the host did not start within 30 s: ${out} ${err}`)), 30_000)
    server.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      const line = /^(\{.*\})$/m.exec(out)
      if (line !== null) { clearTimeout(timer); resolve((JSON.parse(line[1]) as { address: string }).address) }
    })
    server.on('close', () => { clearTimeout(timer); reject(new Error(`the host exited: ${out} ${err}`)) })
  })

  const headers = { authorization: `Bearer ${token(3)}`, 'content-type': 'application/json' }
  const created = await fetch(`${address}/api/v2/user/me/preference/`, {
    method: 'POST', headers, body: JSON.stringify({ key: 'theme', value: { mode: 'dark' } }), signal: AbortSignal.timeout(10_000)
  })
  t.equal(created.status, 201)
  const preference = await created.json() as { id: number }
  t.match(preference, { user_id: 3, key: 'theme', value: { mode: 'dark' } })
  t.equal(created.headers.get('location'), `/api/v2/user/3/preference/${preference.id}/`)
  const fetched = await fetch(`${address}/api/v2/user/3/preference/${preference.id}/`, { headers, signal: AbortSignal.timeout(10_000) })
  t.equal(fetched.status, 200)
  t.same(await fetched.json(), preference)
  const status = await fetch(`${address}/status`, { signal: AbortSignal.timeout(10_000) })
  t.same(await status.json(), { up: true, tags: ['preferences', 'preference defaults'] }, 'the host\'s own route, beside the plugin')
  t.equal((await fetch(`${address}/api/v2/user/3/preference/`, { signal: AbortSignal.timeout(10_000) })).status, 401)

  // The ./client entry point, from plain JavaScript.
  const client = await run(t, process.execPath, ['client.mjs'], {
    cwd: app, env: childEnv({ BASE_URL: `${address}/api/v2`, TOKEN: token(3) }), timeoutMs: 30_000
  })
  ok(t, client, 'client.mjs')
  t.match(JSON.parse(client.stdout), {
    listed: { count: 1, results: [{ id: preference.id, key: 'theme' }] },
    error: { isApiError: true, status: 409, code: 'PREFERENCE_KEY_EXISTS' }
  })

  // The types, as a TypeScript host compiles against them.
  writeFileSync(join(app, 'types.ts'), TYPES)
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')]
    },
    files: ['types.ts']
  }))
  const tsc = await run(t, process.execPath, [require.resolve('typescript/bin/tsc'), '-p', app], { cwd: app, timeoutMs: NPM_TIMEOUT })
  ok(t, tsc, 'tsc on a TypeScript host')

  server.kill('SIGTERM')
  const [code] = await new Promise<[number | null]>((resolve) => {
    if (server.exitCode !== null) resolve([server.exitCode])
    else server.on('close', (c) => resolve([c]))
  })
  t.equal(code, 0, 'the host stops cleanly')
})
