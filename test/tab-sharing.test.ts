import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import t from 'tap'
import type { Test } from 'tap'
import { serve } from './served-client.js'
import { token } from './helper.js'

// subscribe({ shareAs }) in Chromium: the tabs of one profile share one event stream, each
// still receives every revision once and in order (a tab that follows catches up from the
// change feed), and when the reading tab stops another resumes the stream.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CHROMIUM = '/usr/bin/chromium'

if (!existsSync(CHROMIUM)) {
  if (process.env.CI === 'true') t.fail(`no Chromium at ${CHROMIUM}, and CI=true: .ci/run installs it (apt-get install -y chromium)`)
  else t.comment(`the browser tests are skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`)
} else {
  let browser: Browser | undefined
  let bundle = ''
  t.before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM })
    const result = await build({
      entryPoints: ['client/index.ts'], bundle: true, platform: 'browser', format: 'iife', globalName: 'Preferences', write: false, absWorkingDir: ROOT
    })
    bundle = result.outputFiles[0].text
  })
  t.teardown(async () => { await browser?.close() })

  // What a page records: its callbacks' calls, as text, in order.
  type Log = string[]

  /**
   * A tab on the server's origin with the client loaded and a subscription shared as `name`;
   * `failOnce`: its onChange throws the first time it gets that revision.
   */
  async function tab (t: Test, context: BrowserContext, base: string, tok: string, options: { since?: number, failOnce?: number } = {}): Promise<Page> {
    const page = await context.newPage()
    t.after(() => page.close())
    await page.goto(`${base}/health`)
    await page.addScriptTag({ content: bundle })
    await page.evaluate(({ baseUrl, tok, since, failOnce }) => {
      const log: string[] = []
      let failed = false
      const w = globalThis as unknown as { log: Log, subscription: { close: () => void }, Preferences: { subscribe: (options: object) => { close: () => void } } }
      w.log = log
      w.subscription = w.Preferences.subscribe({
        baseUrl,
        token: tok,
        shareAs: `${baseUrl} 9`,
        ...(since !== undefined && { since }),
        onHello: (rev: number) => { log.push(`hello ${rev}`) },
        onChange: (revision: { rev: number, changes: Array<{ key: string }> }) => {
          if (revision.rev === failOnce && !failed) {
            failed = true
            throw new Error('a callback that fails once')
          }
          log.push(`change ${revision.rev} ${revision.changes[0].key}`)
        },
        onReset: (rev: number) => { log.push(`reset ${rev}`) },
        onError: (error: Error, willRetry: boolean) => { log.push(`error ${error.message} ${String(willRetry)}`) }
      })
    }, { baseUrl: `${base}/api/v2`, tok, since: options.since, failOnce: options.failOnce })
    return page
  }

  const logOf = async (page: Page): Promise<Log> => page.evaluate(() => (globalThis as unknown as { log: Log }).log)
  /** Waits until the page's log has `entry` (5 s at most). */
  const logged = async (page: Page, entry: string): Promise<void> => {
    await page.waitForFunction((entry) => (globalThis as unknown as { log: Log }).log.includes(entry), entry, { timeout: 5000 })
  }

  t.test('every tab gets every revision once, in order, from one stream', async (t) => {
    const served = await serve(t)
    const base = served.baseUrl.replace(/\/api\/v2$/, '')
    const user = token(9)
    const context = await (browser as Browser).newContext()
    t.after(() => context.close())
    const streams: string[] = []
    const changeReads: string[] = []
    context.on('request', (request) => {
      if (/\/events\/$/.test(request.url())) streams.push(request.url())
      if (/\/changes\//.test(request.url())) changeReads.push(new URL(request.url()).search)
    })

    const a = await tab(t, context, base, user)
    await logged(a, 'hello 0')
    const b = await tab(t, context, base, user, { failOnce: 2 })
    await logged(b, 'hello 0')
    t.equal(streams.length, 1, 'the second tab follows the first: one stream')

    const client = served.as(9)
    for (const key of ['one', 'two', 'three']) await client.set(key, true)
    await logged(a, 'change 3 three')
    await logged(b, 'change 3 three')
    t.same(await logOf(a), ['hello 0', 'change 1 one', 'change 2 two', 'change 3 three'])
    t.same(await logOf(b), ['hello 0', 'change 1 one', 'error a callback that fails once true', 'change 2 two', 'change 3 three'],
      'the revision whose callback failed comes again, before the next')
    t.same(changeReads, [], 'the tabs had every revision: nothing read from the change feed')

    // A tab that joins late with `since`: the revisions after it, then the live ones.
    const c = await tab(t, context, base, user, { since: 1 })
    await logged(c, 'change 3 three')
    t.same(await logOf(c), ['hello 3', 'change 2 two', 'change 3 three'])
    t.same(changeReads, ['?since=1&limit=1000'], 'what it lacked, read from the change feed')
    t.equal(streams.length, 1, 'still one stream')

    // The reading tab stops: another takes the stream over, after the last revision it received.
    await a.evaluate(() => { (globalThis as unknown as { subscription: { close: () => void } }).subscription.close() })
    await client.set('four', true)
    await logged(b, 'change 4 four')
    await logged(c, 'change 4 four')
    t.equal(streams.length, 2, 'one new stream')
    t.same((await logOf(a)).length, 4, 'the closed one got nothing more')
    t.same((await logOf(b)).slice(-1), ['change 4 four'])
    t.same((await logOf(c)).filter((entry) => entry.startsWith('change')), ['change 2 two', 'change 3 three', 'change 4 four'], 'each once')
  })

  t.test('a tab whose missing revisions are gone from the log gets a reset', async (t) => {
    const served = await serve(t, { changeLog: { maxRevisions: 2 } })
    const base = served.baseUrl.replace(/\/api\/v2$/, '')
    const user = token(9)
    const context = await (browser as Browser).newContext()
    t.after(() => context.close())
    const a = await tab(t, context, base, user)
    await logged(a, 'hello 0')
    const client = served.as(9)
    for (const key of ['one', 'two', 'three', 'four']) await client.set(key, true)
    await logged(a, 'change 4 four')
    const b = await tab(t, context, base, user, { since: 1 })
    await logged(b, 'reset 4')
    await client.set('five', true)
    await logged(b, 'change 5 five')
    t.same(await logOf(b), ['hello 4', 'reset 4', 'change 5 five'], 'revisions 2 to 4 are gone: a reset, then on from there')
  })
}
