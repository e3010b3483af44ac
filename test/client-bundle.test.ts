import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type BuildOptions } from 'esbuild'
import t from 'tap'
import type { Test } from 'tap'

// fastify-user-preferences/client as a browser application gets it: bundled by esbuild for
// the browser (no Node built-in, nothing but client/, and small), and its types compiled with
// a bundler's module resolution, the DOM library and no Node types.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const GZIP_BUDGET = 5 * 1024

const browser = {
  bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, metafile: true, logLevel: 'silent', absWorkingDir: ROOT
} as const satisfies BuildOptions

t.test('esbuild bundles the client for the browser: no Node built-in, only client/, under 5 KB gzipped', async (t) => {
  const result = await build({ ...browser, entryPoints: ['client/index.ts'] })
  t.same(result.errors, [])
  const inputs = Object.keys(result.metafile.inputs)
  t.ok(inputs.includes('client/preferences-client.ts'), `the client is in it (${inputs.join(', ')})`)
  t.ok(inputs.includes('client/subscribe.ts'), 'subscribe and live too')
  t.same(inputs.filter((input) => !input.startsWith('client/')), [], 'nothing but client/ (types from schemas/ are erased)')

  const [output] = result.outputFiles
  const code = output.text
  t.notMatch(code, /\brequire\(|\bprocess\.|\bBuffer\b/, 'no CommonJS require and no Node globals')
  const gzipped = gzipSync(output.contents, { level: 9 }).length
  // console.log, not t.comment: tap's reporter shows a passing test's output, not its comments.
  console.log(`client bundle: ${output.contents.length} bytes minified, ${gzipped} bytes minified and gzipped`)
  t.ok(gzipped < GZIP_BUDGET, `${gzipped} bytes gzipped, under ${GZIP_BUDGET}`)

  // Nothing runs at import time, so an application that imports only the error class gets only
  // that; "sideEffects": false tells bundlers that look no further than package.json.
  const errorOnly = (await build({
    ...browser, stdin: { contents: "export { PreferencesApiError } from './client/index.ts'", resolveDir: ROOT, loader: 'ts' }
  })).outputFiles[0].text
  t.notMatch(errorOnly, /by-key/, 'tree-shaken: the error class alone')
  t.ok(errorOnly.length < 500, `${errorOnly.length} bytes`)
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { sideEffects?: unknown }
  t.equal(manifest.sideEffects, false, 'package.json: "sideEffects": false')
})

t.test('the same bundle fails on a Node built-in (the check can fail)', async (t) => {
  const attempt = build({
    ...browser, stdin: { contents: "import 'node:util'\nexport * from './client/index.ts'", resolveDir: ROOT, loader: 'ts' }
  })
  await t.rejects(attempt, { message: /Could not resolve "node:util"/ })
})

/** Runs tsc with `args`; its output when it fails. */
async function tsc (t: Test, args: string[]): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, [require.resolve('typescript/bin/tsc'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, output }
}

// An application's code: what it may do with the client, and (@ts-expect-error) what it may not.
const APP = `
import {
  createPreferencesClient, live, NOT_MODIFIED, PRECONDITION_FAILED, PreferencesApiError, subscribe,
  type Preference, type PreferencesClientErrorCode, type SetResult
} from 'fastify-user-preferences/client'

const client = createPreferencesClient({ baseUrl: 'https://example.com/api/v2', token: async () => 'a token' })

export async function app (): Promise<string[]> {
  const seen: string[] = []
  try {
    await client.create({ key: 'theme', value: 'dark' })
  } catch (error) {
    if (!(error instanceof PreferencesApiError)) throw error
    const message: string = error.message
    const stack: string | undefined = error.stack
    const status: number = error.status
    const code: PreferencesClientErrorCode = error.code
    const body: unknown = error.body
    seen.push(message, String(stack), String(status), code, String(body), error.name)
    if (error.code === 'PREFERENCE_KEY_EXISTS' || error.code === 'PREFERENCE_UNEXPECTED_RESPONSE') seen.push('known')
    // @ts-expect-error: code is a closed union of the documented codes
    if (error.code === 'PREFERENCE_NO_SUCH_CODE') seen.push('never')
    if (error instanceof Error) seen.push('an Error')
  }

  const plain = await client.get('theme')
  const value: unknown = plain?.value
  const etag: string | undefined = plain?.etag
  seen.push(String(value), String(etag))
  // @ts-expect-error: without ifNoneMatch, get cannot answer NOT_MODIFIED
  if (plain === NOT_MODIFIED) seen.push('never')

  const cached = await client.get('theme', { ifNoneMatch: etag })
  // @ts-expect-error: with ifNoneMatch it may be NOT_MODIFIED: compare first
  seen.push(String(cached?.value))
  if (cached !== NOT_MODIFIED) seen.push(String(cached?.value))

  const written = await client.set('theme', 'light', { ifMatch: etag })
  // @ts-expect-error: with ifMatch it may be PRECONDITION_FAILED
  seen.push(String(written.created))
  if (written !== PRECONDITION_FAILED) seen.push(String(written.created))

  const set: SetResult = await client.set('theme', 'light')
  const updated: SetResult = await client.update('visits', (count) => (typeof count === 'number' ? count : 0) + 1)
  const page = await client.list({ limit: 5 })
  const { deleted } = await client.merge({ theme: null })
  const removed: boolean = await client.delete('theme')
  const byId: Preference = await client.getById(1)
  seen.push(set.etag, updated.etag, page.etag, String(page.count), ...deleted, String(removed), byId.key)
  // @ts-expect-error: get takes a key, getById an id
  await client.get(1)
  // @ts-expect-error: a key is a string
  await client.create({ key: 5, value: 1 })

  const subscription = subscribe({ baseUrl: 'https://example.com/api/v2', token: async () => 'a token', onChange: (revision) => { seen.push(String(revision.rev)) } })
  const copy = live({ baseUrl: 'https://example.com/api/v2', onUpdate: (keys) => { seen.push(String(keys)) } })
  await copy.ready
  const source: string | undefined = copy.preferences.theme?.source
  seen.push(String(source), String(copy.rev), String(subscription.rev))
  // @ts-expect-error: onChange is required
  subscribe({ baseUrl: 'https://example.com/api/v2' })
  subscription.close()
  copy.close()
  return seen
}
`

t.test('the client\'s types with moduleResolution "Bundler", the DOM library and no Node types', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prefs-client-types-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // The package's declarations as `npm run build` makes them, under its own package.json (its
  // exports map), installed in an application beside the one dependency they name.
  const pkg = join(dir, 'app', 'node_modules', 'fastify-user-preferences')
  mkdirSync(pkg, { recursive: true })
  copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'))
  mkdirSync(join(dir, 'app', 'node_modules', '@sinclair'))
  symlinkSync(join(ROOT, 'node_modules', '@sinclair', 'typebox'), join(dir, 'app', 'node_modules', '@sinclair', 'typebox'))
  writeFileSync(join(dir, 'emit.json'), JSON.stringify({
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: {
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      sourceMap: false,
      rootDir: ROOT,
      outDir: join(pkg, 'dist'),
      // What a browser has: the client must not need Node's types to compile.
      lib: ['ES2022', 'DOM'],
      types: []
    },
    include: [],
    files: [join(ROOT, 'client', 'index.ts')]
  }))
  const emitted = await tsc(t, ['-p', join(dir, 'emit.json')])
  t.equal(emitted.code, 0, `declarations of the client, compiled for the browser: ${emitted.output}`)

  writeFileSync(join(dir, 'app', 'app.ts'), APP)
  // The README's example, as an application module, so that it cannot drift from the types.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const example = /^## Client\n[^]*?^```ts\n([^]*?)^```$/m.exec(readme)?.[1]
  t.match(example, /createPreferencesClient/, 'the README\'s client example')
  writeFileSync(join(dir, 'app', 'readme.ts'), `declare const session: { accessToken: string }\n${example ?? ''}\nexport {}\n`)
  const inBrowser = /^## Using the client in a browser\n[^]*?^```ts\n([^]*?)^```$/m.exec(readme)?.[1]
  t.match(inBrowser, /live\(/, 'the README\'s browser example')
  writeFileSync(join(dir, 'app', 'readme-browser.ts'), 'declare const auth: { getSession: () => Promise<{ accessToken: string }> }\n' +
    `declare function render (preferences: object, keys: string[] | undefined): void\n${inBrowser ?? ''}\nexport {}\n`)
  writeFileSync(join(dir, 'app', 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      module: 'ESNext',
      moduleResolution: 'Bundler',
      target: 'ES2022',
      lib: ['ES2022', 'DOM'],
      types: []
    },
    files: ['app.ts', 'readme.ts', 'readme-browser.ts']
  }))
  const checked = await tsc(t, ['-p', join(dir, 'app')])
  t.equal(checked.code, 0, `the application compiles, and each @ts-expect-error is an error: ${checked.output}`)
})
