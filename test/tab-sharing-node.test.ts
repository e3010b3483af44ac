import t from 'tap'
import type { Test } from 'tap'
import { subscribe, type Subscription } from '../client/index.js'
import { build, client, PREFIX, token, until } from './helper.js'

// subscribe({ shareAs }) run in Node, whose BroadcastChannel is the real one but which has no
// Web Locks: the lock manager below stands in for the browser's (first come, first served;
// a request aborted while it waits is dropped). Chromium runs the same code with its own in
// test/tab-sharing.test.ts; here the paths a browser test cannot steer: a lock manager that
// refuses, a failing callback's retry, a reset, and no navigator at all.

class TabLocks {
  private readonly waiting = new Map<string, Array<() => void>>()
  private readonly held = new Set<string>()
  refuse = false

  async request (name: string, { signal }: { signal: AbortSignal }, callback: () => Promise<void>): Promise<void> {
    if (this.refuse) throw new Error('SecurityError: this origin may not take locks')
    if (this.held.has(name)) {
      await new Promise<void>((resolve, reject) => {
        const queue = this.waiting.get(name) ?? []
        this.waiting.set(name, queue)
        const grant = (): void => { signal.removeEventListener('abort', abort); resolve() }
        const abort = (): void => { queue.splice(queue.indexOf(grant), 1); reject(new Error('AbortError')) }
        queue.push(grant)
        signal.addEventListener('abort', abort, { once: true })
      })
    }
    this.held.add(name)
    try {
      await callback()
    } finally {
      const next = this.waiting.get(name)?.shift()
      if (next === undefined) this.held.delete(name)
      else next()
    }
  }
}

function withLocks (t: Test): TabLocks {
  const locks = new TabLocks()
  const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
  Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true, writable: true })
  t.teardown(() => {
    if (before === undefined) Reflect.deleteProperty(globalThis, 'navigator')
    else Object.defineProperty(globalThis, 'navigator', before)
  })
  return locks
}

async function listen (t: Test, plugin = {}) {
  const test = await build(t, { plugin })
  const address = await test.app.listen({ host: '127.0.0.1', port: 0 })
  const calls: string[] = []
  const recording: typeof fetch = async (input, init) => {
    calls.push(new URL(String(input)).pathname + new URL(String(input)).search)
    return fetch(input, init)
  }
  return { ...test, calls, fetch: recording, baseUrl: `${address}${PREFIX}` }
}

/** A subscription for user 9 shared as `name`, its callbacks' calls logged as text. */
function tab (t: Test, served: Awaited<ReturnType<typeof listen>>, options: { since?: number, failOnce?: number } = {}) {
  const log: string[] = []
  let failed = false
  const subscription: Subscription = subscribe({
    baseUrl: served.baseUrl,
    token: token(9),
    fetch: served.fetch,
    shareAs: 'user 9',
    retryMs: 20,
    ...(options.since !== undefined && { since: options.since }),
    onHello: (rev) => { log.push(`hello ${rev}`) },
    onChange: (revision) => {
      if (revision.rev === options.failOnce && !failed) {
        failed = true
        throw new Error('fails once')
      }
      log.push(`change ${revision.rev}`)
    },
    onReset: (rev) => { log.push(`reset ${rev}`) },
    onError: (error, willRetry) => { log.push(`error ${(error as Error).message} ${String(willRetry)}`) }
  })
  t.teardown(async () => {
    subscription.close()
    await subscription.done
  })
  return { log, subscription }
}

const streamsOf = (calls: string[]) => calls.filter((call) => call.endsWith('/events/'))

t.test('one stream for the subscriptions shared under one name; a failing callback gets its revision again', async (t) => {
  withLocks(t)
  const served = await listen(t)
  const write = client(served.app, token(9))
  const a = tab(t, served)
  await until(() => a.log.includes('hello 0'), 'the first hello')
  const b = tab(t, served, { failOnce: 2 })
  await until(() => b.log.includes('hello 0'), 'the hello the reading one answers with')
  for (const key of ['one', 'two', 'three']) await write.create(key, true)
  await until(() => a.log.includes('change 3') && b.log.includes('change 3'), 'revision 3 everywhere')
  t.same(a.log, ['hello 0', 'change 1', 'change 2', 'change 3'])
  t.same(b.log, ['hello 0', 'change 1', 'error fails once true', 'change 2', 'change 3'], 'again after the backoff, before the next')
  t.equal(streamsOf(served.calls).length, 1, 'one stream')

  // A late one with `since`: what it lacks from the change feed, after the hello.
  const c = tab(t, served, { since: 1 })
  await until(() => c.log.includes('change 3'), 'the late one caught up')
  t.same(c.log, ['hello 3', 'change 2', 'change 3'])
  t.ok(served.calls.includes(`${new URL(served.baseUrl).pathname}/user/me/preference/changes/?since=1&limit=1000`))

  // The reading one stops: the next in line resumes the stream after its last revision.
  a.subscription.close()
  await a.subscription.done
  await write.create('four', true)
  await until(() => b.log.includes('change 4') && c.log.includes('change 4'), 'revision 4 after the take-over')
  t.equal(streamsOf(served.calls).length, 2)
  t.same(b.log.slice(-1), ['change 4'])
  t.same(c.log.filter((entry) => entry.startsWith('change')), ['change 2', 'change 3', 'change 4'], 'each once')
})

t.test('revisions gone from the log: a reset, then on from there', async (t) => {
  withLocks(t)
  const served = await listen(t, { changeLog: { maxRevisions: 2 } })
  const write = client(served.app, token(9))
  const a = tab(t, served)
  await until(() => a.log.includes('hello 0'), 'the first hello')
  for (const key of ['one', 'two', 'three', 'four']) await write.create(key, true)
  await until(() => a.log.includes('change 4'), 'revision 4')
  const b = tab(t, served, { since: 1 })
  await until(() => b.log.includes('reset 4'), 'the reset')
  await write.create('five', true)
  await until(() => b.log.includes('change 5'), 'revision 5')
  t.same(b.log, ['hello 4', 'reset 4', 'change 5'])
})

t.test('a lock manager that refuses: each subscription reads a stream of its own', async (t) => {
  const locks = withLocks(t)
  locks.refuse = true
  const served = await listen(t)
  const a = tab(t, served)
  const b = tab(t, served)
  await until(() => a.log.includes('hello 0') && b.log.includes('hello 0'), 'both hellos')
  await client(served.app, token(9)).create('one', true)
  await until(() => a.log.includes('change 1') && b.log.includes('change 1'), 'revision 1 in both')
  t.equal(streamsOf(served.calls).length, 2)
})

t.test('without Web Locks (Node as it is), shareAs is ignored', async (t) => {
  t.equal((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks, undefined)
  const served = await listen(t)
  const a = tab(t, served)
  const b = tab(t, served)
  await until(() => a.log.includes('hello 0') && b.log.includes('hello 0'), 'both hellos')
  t.equal(streamsOf(served.calls).length, 2)
})
