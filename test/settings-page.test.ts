import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Type } from '@sinclair/typebox'
import { type Browser, type BrowserContext, chromium, type Page, type Request } from 'playwright-core'
import t from 'tap'
import type { Test } from 'tap'
import type { KeyRegistry } from '../index.js'
import { buildApp } from '../server/app.js'
import { SETTINGS_CSP } from '../server/settings-page.js'
import { childEnv } from './child-env.js'
import { adminToken, freshDatabaseUrl, SECRET, token } from './helper.js'

// The settings page in a real browser (Debian's Chromium driven by playwright-core) against the
// standalone server on the suite's database: the form made from the registry, saves with
// If-Match, conflicts, locks, the server's messages, and live updates between two pages.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CHROMIUM = '/usr/bin/chromium'

// The example KEYS_FILE (enum, object, pattern, boolean, admin-only), and a number and a
// TypeBox union of literals.
const KEYS: KeyRegistry = {
  ...JSON.parse(readFileSync(join(ROOT, 'examples', 'keys.json'), 'utf8')) as KeyRegistry,
  fontSize: { schema: Type.Integer({ minimum: 8, maximum: 32 }), description: 'Text size in pixels' },
  accent: { schema: Type.Union([Type.Literal('blue'), Type.Literal('green')]), default: 'blue' }
}

interface Served { base: string, api: (method: string, path: string, tok: string, body?: unknown) => Promise<Response> }

async function serve (t: Test, settingsAssetsDir?: string): Promise<Served> {
  const app = await buildApp({
    jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(t), logger: false, plugin: { keys: KEYS }, settingsAssetsDir
  })
  t.after(() => app.close())
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    base,
    api: async (method, path, tok, body) => fetch(`${base}/api/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${tok}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000)
    })
  }
}

t.test('the page and its files: a strict CSP, no inline script, the registry as JSON', async (t) => {
  const { base } = await serve(t)
  const redirect = await fetch(`${base}/settings`, { redirect: 'manual' })
  t.equal(redirect.status, 308)
  t.equal(redirect.headers.get('location'), '/settings/')

  const page = await fetch(`${base}/settings/`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  t.equal(page.headers.get('content-security-policy'), SETTINGS_CSP)
  t.match(SETTINGS_CSP, /script-src 'self'/)
  t.notMatch(SETTINGS_CSP, /unsafe-inline|unsafe-eval/)
  const html = await page.text()
  t.same(html.match(/<script[^>]*>/g), ['<script type="module" src="app.js">'], 'one script, a file')
  t.notMatch(html, /<script[^>]*>[^<]/, 'nothing inline')
  t.notMatch(html, /style=/)

  for (const [name, type] of [['app.js', /^text\/javascript/], ['app.css', /^text\/css/]] as const) {
    const file = await fetch(`${base}/settings/${name}`)
    t.equal(file.status, 200, name)
    t.match(file.headers.get('content-type'), type)
    t.equal(file.headers.get('content-security-policy'), SETTINGS_CSP)
    t.equal(file.headers.get('x-content-type-options'), 'nosniff')
    t.ok((await file.text()).length > 100)
  }
  const keys = await (await fetch(`${base}/settings/keys.json`)).json() as { unknownKeys: string, keys: Record<string, unknown> }
  t.equal(keys.unknownKeys, 'allow')
  t.same(keys.keys.theme, { schema: { enum: ['light', 'dark', 'system'] }, default: 'system', description: 'Colour theme', writable: 'user' })
  t.same(keys.keys.fontSize, { schema: { type: 'integer', minimum: 8, maximum: 32 }, description: 'Text size in pixels', writable: 'user' })
  t.match(keys.keys['billing.plan'], { writable: 'admin' })

  const doc = await (await fetch(`${base}/documentation/json`)).json() as { paths: Record<string, unknown> }
  t.notOk(Object.keys(doc.paths).some((path) => path.startsWith('/settings')), 'not in the API\'s document')
})

t.test('npm run build\'s bundle is what the server serves when it is there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prefs-settings-assets-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/build-settings.ts', dir], { cwd: ROOT, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  t.equal(await new Promise((resolve) => child.on('close', resolve)), 0, `the build step (stderr: ${stderr})`)
  const js = readFileSync(join(dir, 'app.js'), 'utf8')
  t.notMatch(js, /\bnode:|\brequire\(|\bprocess\./, 'browser code only')
  t.match(js, /events\//, 'with the client\'s subscribe')
  // A marker, to see that these files are served, not a bundle made on the spot.
  writeFileSync(join(dir, 'app.js'), `${js}\n/* built */\n`)
  const { base } = await serve(t, dir)
  t.match(await (await fetch(`${base}/settings/app.js`)).text(), /\/\* built \*\/\n$/)
  t.equal(await (await fetch(`${base}/settings/app.css`)).text(), readFileSync(join(dir, 'app.css'), 'utf8'))
})

if (!existsSync(CHROMIUM)) {
  if (process.env.CI === 'true') t.fail(`no Chromium at ${CHROMIUM}, and CI=true: .ci/run installs it (apt-get install -y chromium)`)
  else t.comment(`the browser tests are skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`)
} else {
  let browser: Browser | undefined
  t.before(async () => { browser = await chromium.launch({ executablePath: CHROMIUM }) })
  t.teardown(async () => { await browser?.close() })

  interface Opened {
    page: Page
    /** Every request the page sent. */
    requests: Request[]
    /** Console errors and uncaught exceptions (a CSP violation is one). */
    errors: string[]
    row: (key: string) => ReturnType<Page['locator']>
  }

  /** A new page (its own tab) signed in with `tok`, once its preferences are live. */
  const open = async (t: Test, base: string, tok: string, context?: BrowserContext): Promise<Opened> => {
    const page = await (context ?? browser as Browser).newPage()
    t.after(() => page.close())
    const requests: Request[] = []
    const errors: string[] = []
    page.on('request', (request) => requests.push(request))
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('console', (message) => {
      // Chromium logs every 4xx answer (the favicon's, a refused save's): those are expected.
      if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
        errors.push(message.text())
      }
    })
    await page.goto(`${base}/settings/#token=${tok}`)
    await page.locator('#status', { hasText: 'Live' }).waitFor()
    return { page, requests, errors, row: (key) => page.locator(`.row[data-key="${key}"]`) }
  }

  /** The token went only in Authorization headers: never in a URL, never sent without a header. */
  const checkToken = async (t: Test, opened: Opened, tok: string): Promise<void> => {
    t.notMatch(opened.page.url(), /token/, 'the fragment was taken out of the address bar')
    const api = opened.requests.filter((request) => request.url().includes('/api/v2/'))
    t.ok(api.length > 0)
    for (const request of opened.requests) t.notOk(request.url().includes(tok) || /token=/.test(request.url()), `${request.url()}: no token in the URL`)
    for (const request of api) t.equal(await request.headerValue('authorization'), `Bearer ${tok}`, `${request.method()} ${request.url()}`)
    t.same(opened.errors, [], 'no console error, no CSP violation')
  }

  const selected = async (opened: Opened, key: string) => opened.row(key).locator('select option:checked').textContent()
  /** Waits (a second at most) until `key`'s select shows `label`. */
  const shows = async (opened: Opened, key: string, label: string) =>
    opened.row(key).locator('select option:checked', { hasText: new RegExp(`^${label}$`) }).waitFor({ state: 'attached', timeout: 1000 })

  t.test('two pages of one user: a change in one shows in the other', async (t) => {
    const { base, api } = await serve(t)
    const user = token(7)
    const a = await open(t, base, user)
    const b = await open(t, base, user)

    // The form follows the schemas.
    t.equal(await selected(b, 'theme'), 'system', 'enum: a select showing the default')
    t.match(await b.row('theme').locator('.source').textContent(), /^default/)
    t.equal(await b.row('theme').locator('.description').textContent(), 'Colour theme')
    t.equal(await selected(b, 'accent'), 'blue', 'a union of literals: a select')
    t.equal(await b.row('notifications.email').locator('input').getAttribute('type'), 'checkbox')
    t.equal(await b.row('fontSize').locator('input').getAttribute('type'), 'number')
    t.equal(await b.row('fontSize').locator('.source').textContent(), 'not set')
    t.equal(await b.row('layout').locator('textarea').inputValue(), JSON.stringify({ columns: 2 }, null, 2), 'an object: JSON')

    await a.row('theme').locator('select').selectOption({ label: 'dark' })
    await a.row('theme').locator('button.save').click()
    await a.row('theme').locator('.message', { hasText: 'Saved' }).waitFor()
    await shows(b, 'theme', 'dark')
    t.equal(await b.row('theme').locator('.source').textContent(), 'your value')
    t.match(await (await api('GET', '/user/me/preference/by-key/theme/', user)).json(), { value: 'dark' }, 'stored')

    // The other way, a checkbox; then A's value removed from B: the default shows again in A.
    await b.row('notifications.email').locator('input').uncheck()
    await b.row('notifications.email').locator('button.save').click()
    await a.row('notifications.email').locator('input:not(:checked)').waitFor({ state: 'attached', timeout: 1000 })
    await b.row('theme').locator('button.reset').click()
    await shows(a, 'theme', 'system')
    t.match(await a.row('theme').locator('.source').textContent(), /^default/)
    t.equal((await api('GET', '/user/me/preference/by-key/theme/', user)).status, 404, 'the user\'s value is gone')

    // A key set elsewhere that the page did not show gets its row.
    await api('PUT', '/user/me/preference/by-key/tour.welcome/', user, { value: true })
    await a.row('tour.welcome').locator('input[type="checkbox"]:checked').waitFor({ timeout: 1000 })
    await checkToken(t, a, user)
    await checkToken(t, b, user)
  })

  t.test('tabs of one browser share one stream, and another takes it over when its tab closes', async (t) => {
    const { base, api } = await serve(t)
    const user = token(8)
    // One browser profile: its tabs share Web Locks and BroadcastChannels (newPage alone makes
    // a profile per page, as separate browsers would be).
    const context = await (browser as Browser).newContext()
    t.after(() => context.close())
    const tabs = [await open(t, base, user, context), await open(t, base, user, context), await open(t, base, user, context)]
    const streams = (opened: Opened[]) => opened.flatMap((tab) => tab.requests.filter((request) => /\/events\/$/.test(request.url())))
    t.equal(streams(tabs).length, 1, 'one stream for three tabs')
    t.equal(streams([tabs[0]]).length, 1, 'held by the first')

    await api('PUT', '/user/me/preference/by-key/theme/', user, { value: 'dark' })
    for (const tab of tabs) await shows(tab, 'theme', 'dark')

    await tabs[0].page.close()
    const rest = tabs.slice(1)
    // Changes made before another tab has taken over reach both tabs too (it resumes after the
    // last revision it received).
    await api('PUT', '/user/me/preference/by-key/fontSize/', user, { value: 20 })
    for (let i = 0; i < 50 && streams(rest).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal(streams(rest).length, 1, 'one of the other two opened the stream')
    await api('PUT', '/user/me/preference/by-key/theme/', user, { value: 'light' })
    for (const tab of rest) {
      await shows(tab, 'theme', 'light')
      t.equal(await tab.row('fontSize').locator('input').inputValue(), '20')
      await checkToken(t, tab, user)
    }
  })

  t.test('a locked key and an admin-only key are read-only', async (t) => {
    const { base, api } = await serve(t)
    const user = token(7)
    t.equal((await api('PUT', '/preference-defaults/site/by-key/layout/', adminToken(), { value: { columns: 3 }, locked: true })).status, 201)
    t.equal((await api('PUT', '/user/7/preference/by-key/layout/', adminToken(), { value: { columns: 1 } })).status, 201, 'a stored value it shadows')
    const opened = await open(t, base, user)
    const layout = opened.row('layout')
    t.ok(await layout.locator('textarea').isDisabled(), 'locked: read-only')
    t.equal(await layout.locator('textarea').inputValue(), JSON.stringify({ columns: 3 }, null, 2), 'the site\'s value')
    t.equal(await layout.locator('.lock').textContent(), 'Locked by the site')
    t.equal(await layout.locator('.source').textContent(), 'site default')
    t.notOk(await layout.locator('button.save').isVisible(), 'no save')
    const plan = opened.row('billing.plan')
    t.ok(await plan.locator('input').isDisabled(), 'admin-only: read-only for a user')
    t.equal(await plan.locator('.lock').textContent(), 'Only an admin can change this')
    t.notOk(await opened.row('theme').locator('select').isDisabled(), 'the others are editable')
    await checkToken(t, opened, user)
  })

  t.test('an invalid value shows the server\'s message and stores nothing', async (t) => {
    const { base, api } = await serve(t)
    const user = token(7)
    const opened = await open(t, base, user)
    const expected = await (await api('PUT', '/user/me/preference/by-key/fontSize/', user, { value: 99 })).json() as { message: string }
    t.match(expected.message, /fontSize/)

    const fontSize = opened.row('fontSize')
    await fontSize.locator('input').fill('99')
    await fontSize.locator('button.save').click()
    await fontSize.locator('.message[data-kind="error"]').waitFor()
    t.equal(await fontSize.locator('.message').textContent(), expected.message, 'the server\'s own words')

    const layout = opened.row('layout')
    await layout.locator('textarea').fill('{"columns": 9}')
    await layout.locator('button.save').click()
    await layout.locator('.message[data-kind="error"]').waitFor()
    t.match(await layout.locator('.message').textContent(), /layout.*\/columns/)
    await layout.locator('textarea').fill('{"columns": ')
    await layout.locator('button.save').click()
    await layout.locator('.message', { hasText: 'Not JSON' }).waitFor()

    t.equal((await api('GET', '/user/me/preference/by-key/fontSize/', user)).status, 404, 'nothing stored')
    t.equal((await api('GET', '/user/me/preference/by-key/layout/', user)).status, 404)
    await checkToken(t, opened, user)
  })

  t.test('a stale save is a conflict: the message, and the current value reloaded', async (t) => {
    const { base, api } = await serve(t)
    const user = token(7)
    t.equal((await api('PUT', '/user/me/preference/by-key/fontSize/', user, { value: 12 })).status, 201)
    const opened = await open(t, base, user)
    const fontSize = opened.row('fontSize')
    t.equal(await fontSize.locator('input').inputValue(), '12')

    // Edited in the page, then changed through the API before the page saves.
    await fontSize.locator('input').fill('16')
    t.equal((await api('PUT', '/user/me/preference/by-key/fontSize/', user, { value: 20 })).status, 200)
    await fontSize.locator('button.save').click()
    await fontSize.locator('.message[data-kind="conflict"]').waitFor()
    t.match(await fontSize.locator('.message').textContent(), /changed elsewhere/)
    t.equal(await fontSize.locator('input').inputValue(), '20', 'the current value, reloaded')
    t.match(await (await api('GET', '/user/me/preference/by-key/fontSize/', user)).json(), { value: 20 }, 'the stale save wrote nothing')

    // Made again on the current value, it saves.
    await fontSize.locator('input').fill('16')
    await fontSize.locator('button.save').click()
    await fontSize.locator('.message', { hasText: 'Saved' }).waitFor()
    t.match(await (await api('GET', '/user/me/preference/by-key/fontSize/', user)).json(), { value: 16 })

    // A create from a page that showed the key unset is a conflict too when it was set meanwhile.
    t.equal(await opened.row('accent').locator('.source').textContent(), 'default')
    await opened.row('accent').locator('select').selectOption({ label: 'green' })
    t.equal((await api('PUT', '/user/me/preference/by-key/accent/', user, { value: 'blue' })).status, 201)
    await opened.row('accent').locator('button.save').click()
    await opened.row('accent').locator('.message[data-kind="conflict"]').waitFor()
    t.equal(await selected(opened, 'accent'), 'blue')
    t.equal(await opened.row('accent').locator('.source').textContent(), 'your value')
    await checkToken(t, opened, user)
  })

  t.test('the browser enforces the CSP: an injected inline script does not run, and is reported', async (t) => {
    const { base } = await serve(t)
    const opened = await open(t, base, token(7))
    // Code that runs in the page (a string: this file is compiled without the DOM's types).
    const ran = await opened.page.evaluate(`(async () => {
      const script = document.createElement('script')
      script.textContent = 'document.body.dataset.ran = "yes"'
      document.body.append(script)
      await new Promise((resolve) => setTimeout(resolve, 50))
      return document.body.dataset.ran
    })()`)
    t.equal(ran, undefined, 'refused')
    t.match(opened.errors, [/inline script.*Content Security Policy/], 'reported as the other tests would see it')
  })

  t.test('without a token the page says how to sign in', async (t) => {
    const { base } = await serve(t)
    const page = await (browser as Browser).newPage()
    t.after(() => page.close())
    await page.goto(`${base}/settings/`)
    await page.locator('#status', { hasText: 'Not signed in' }).waitFor()
    t.equal(await page.locator('.row').count(), 0)
  })
}
