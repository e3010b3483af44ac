import type { IncomingMessage, ServerResponse } from 'node:http'
import t from 'tap'
import type { Test } from 'tap'
import { live, PreferencesApiError, type Revision, subscribe, type SubscribeOptions } from '../client/index.js'
import { KEYS } from './keys-fixture.js'
import { adminToken, build, type BuildOptions, client, PREFIX, token, until } from './helper.js'

// subscribe() and live() against a real listening server: the client reads the event stream
// over fetch as a browser would, and the server side of each stream is watched directly.

interface ServerStream { url: string, res: ServerResponse, closed: Promise<void> }

interface Sent { url: string, headers: Record<string, string> }

async function listen (t: Test, options: BuildOptions = {}) {
  const test = await build(t, options)
  // The server's side of each event stream, to drop it and to see it close.
  const streams: ServerStream[] = []
  test.app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.includes('/preference/events/') === true) {
      streams.push({ url: req.url, res, closed: new Promise((resolve) => res.on('close', resolve)) })
    }
  })
  const address = await test.app.listen({ host: '127.0.0.1', port: 0 })
  // Every request the client sends, with its headers, through the real fetch.
  const sent: Sent[] = []
  // A function that, like a browser's fetch, refuses to be called as a method of another object.
  const recording = async function (this: unknown, input: string | URL | Request, init?: RequestInit): Promise<Response> {
    if (this !== undefined && this !== globalThis) throw new TypeError('Illegal invocation')
    sent.push({ url: String(input), headers: { ...init?.headers as Record<string, string> } })
    return fetch(input, init)
  }
  return { ...test, streams, sent, fetch: recording, baseUrl: `${address}${PREFIX}` }
}

/** A subscription that records what it receives; closed when the test ends. */
function record (t: Test, options: Omit<SubscribeOptions, 'onChange'>) {
  const seen = { hello: [] as number[], changes: [] as Revision[], resets: [] as number[], errors: [] as Array<[unknown, boolean]> }
  const subscription = subscribe({
    ...options,
    onHello: (rev) => { seen.hello.push(rev) },
    onChange: (revision) => { seen.changes.push(revision) },
    onReset: (rev) => { seen.resets.push(rev) },
    onError: (error, willRetry) => { seen.errors.push([error, willRetry]) }
  })
  t.after(async () => {
    subscription.close()
    await subscription.done
  })
  return { seen, subscription, revs: () => seen.changes.map((r) => r.rev) }
}

t.test('events arrive in order, with the token in the Authorization header, never in the URL', async (t) => {
  const { app, baseUrl, fetch, sent } = await listen(t)
  const user1 = token(1)
  const { seen, subscription, revs } = record(t, { baseUrl, token: user1, fetch })
  await until(() => seen.hello.length === 1, 'hello')
  t.same(seen.hello, [0])
  t.equal(subscription.rev, 0, 'the revision of hello')

  const c = client(app, token(1))
  const created = (await c.create('theme', 'dark')).json()
  await c.request('PUT', '/user/me/preference/by-key/theme/', { value: 'light' })
  await client(app, token(2)).create('theme', 'dark')
  await c.request('DELETE', '/user/me/preference/by-key/theme/')
  await until(() => seen.changes.length === 3, 'three revisions')
  t.same(revs(), [1, 2, 3], 'each of the user\'s revisions once, in order; another user\'s none')
  t.match(seen.changes[0], { rev: 1, actor: { id: 1, admin: false }, changes: [{ op: 'set', key: 'theme', id: created.id, value: 'dark' }] })
  t.match(seen.changes[2], { rev: 3, changes: [{ op: 'delete', key: 'theme', id: created.id }] })
  t.equal(subscription.rev, 3)

  t.equal(sent.length, 1, 'one request')
  t.equal(sent[0].url, `${baseUrl}/user/me/preference/events/`, 'no token (nor anything else) in the URL')
  t.equal(sent[0].headers.authorization, `Bearer ${user1}`)
  t.equal(sent[0].headers.accept, 'text/event-stream')
  t.same(seen.errors, [])
})

t.test('after the server drops the connection it resumes from the last revision: none lost, none repeated', async (t) => {
  const { app, baseUrl, fetch, sent, streams } = await listen(t)
  const c = client(app, token(1))
  await c.create('k', 0)
  const { seen, revs } = record(t, { baseUrl, token: token(1), fetch, retryMs: 200 })
  await until(() => seen.hello.length === 1, 'hello')
  t.same(seen.hello, [1], 'it starts from now')
  await c.request('PUT', '/user/1/preference/by-key/k/', { value: 1 })
  await until(() => seen.changes.length === 1, 'revision 2')

  // Drop it from the server's side, then write while the client is away.
  streams[0].res.socket?.destroy()
  await streams[0].closed
  for (let i = 2; i <= 4; i++) await c.request('PUT', '/user/1/preference/by-key/k/', { value: i })
  await until(() => seen.hello.length === 2, 'the second connection')
  await c.request('PUT', '/user/1/preference/by-key/k/', { value: 5 })
  await until(() => seen.changes.length >= 5, 'five revisions')

  t.same(revs(), [2, 3, 4, 5, 6], 'every revision once, in order')
  t.same(seen.changes.map((r) => r.changes[0].value), [1, 2, 3, 4, 5])
  t.equal(sent.length, 2, 'one reconnection')
  t.equal(sent[1].headers['last-event-id'], '2', 'it sent the last revision it had')
  t.equal(sent[1].url, `${baseUrl}/user/me/preference/events/`)
  t.equal(seen.errors.length, 1, 'the drop was reported')
  t.equal(seen.errors[0][1], true, 'and retried')
  t.same(seen.resets, [])
})

t.test('an erasure is surfaced as a reset; the changes after it follow', async (t) => {
  const { app, baseUrl, fetch } = await listen(t)
  const c = client(app, token(1))
  const { seen, revs } = record(t, { baseUrl, token: token(1), fetch })
  await until(() => seen.hello.length === 1, 'hello')
  await c.create('a', 1)
  t.equal((await c.request('DELETE', '/user/1/preference/')).statusCode, 204)
  await c.create('b', 2)
  await until(() => seen.changes.length === 2, 'the change after the erasure')
  t.same(seen.resets, [2], 'the erasure\'s revision, as a reset')
  t.same(revs(), [1, 3])
})

t.test('an expired Last-Event-ID (since) is a reset', async (t) => {
  const { app, baseUrl, fetch } = await listen(t, { plugin: { changeLog: { maxRevisions: 2 } } })
  const c = client(app, token(1))
  for (let i = 0; i < 5; i++) await c.request('PUT', '/user/1/preference/by-key/k/', { value: i })
  const { seen, subscription } = record(t, { baseUrl, token: token(1), fetch, since: 1 })
  await until(() => seen.resets.length === 1, 'the reset')
  t.same(seen.resets, [5])
  t.equal(subscription.rev, 5)
  await c.request('PUT', '/user/1/preference/by-key/k/', { value: 9 })
  await until(() => seen.changes.length === 1, 'the next change')
  t.equal(seen.changes[0].rev, 6)
})

t.test('close() ends the connection on the server and stops reconnecting; so does the signal', async (t) => {
  const { app, baseUrl, fetch, sent, streams } = await listen(t, { plugin: { maxStreamsPerUser: 1 } })
  const { seen, subscription } = record(t, { baseUrl, token: token(1), fetch })
  await until(() => seen.hello.length === 1, 'hello')
  subscription.close()
  await subscription.done
  await streams[0].closed
  t.pass('the server saw the stream close')
  t.equal(sent.length, 1, 'no reconnection')
  t.same(seen.errors, [], 'closing is not an error')

  // The server counted it closed: the one stream this user may have opens again.
  const controller = new AbortController()
  const second = record(t, { baseUrl, token: token(1), fetch, signal: controller.signal })
  await until(() => second.seen.hello.length === 1, 'the second stream')
  await client(app, token(1)).create('x', 1)
  await until(() => second.seen.changes.length === 1, 'a change on it')
  controller.abort()
  await second.subscription.done
  await streams[1].closed
  t.equal(sent.length, 2)
})

t.test('an answer that retrying cannot change stops it; a token function is asked again after a 401', async (t) => {
  const { baseUrl, fetch, sent } = await listen(t)
  const refused = record(t, { baseUrl, token: 'not-a-token', fetch })
  await refused.subscription.done
  t.equal(refused.seen.errors.length, 1)
  const [error, willRetry] = refused.seen.errors[0]
  t.ok(error instanceof PreferencesApiError)
  t.match(error, { status: 401, code: 'PREFERENCE_AUTH_INVALID' })
  t.equal(willRetry, false, 'a fixed token that is refused is not retried')
  t.equal(sent.length, 1)

  const forbidden = record(t, { baseUrl, token: token(2), fetch, userId: 1 })
  await forbidden.subscription.done
  t.match(forbidden.seen.errors, [[{ status: 403, code: 'PREFERENCE_FORBIDDEN' }, false]])
  t.equal(sent[1].url, `${baseUrl}/user/1/preference/events/`)

  // The first token is stale; the function returns a fresh one the next time.
  const user1 = token(1)
  const tokens = ['stale', user1]
  const refreshed = record(t, { baseUrl, token: () => tokens.shift() ?? user1, fetch, retryMs: 50 })
  await until(() => refreshed.seen.hello.length === 1, 'hello with the refreshed token')
  t.match(refreshed.seen.errors, [[{ status: 401 }, true]], 'the 401 was retried')
  t.equal(sent[3].headers.authorization, `Bearer ${user1}`)
})

t.test('heartbeats keep a quiet stream open; silence longer than idleMs reconnects', async (t) => {
  const quiet = await listen(t, { plugin: { heartbeatSeconds: 1 } })
  const kept = record(t, { baseUrl: quiet.baseUrl, token: token(1), fetch: quiet.fetch, idleMs: 2500 })
  await until(() => kept.seen.hello.length === 1, 'hello')
  // Three heartbeats, seen from the server's side, with no event between them.
  let heartbeats = 0
  const res = quiet.streams[0].res
  const write = res.write.bind(res) as (chunk: string) => boolean
  res.write = ((chunk: string) => {
    if (chunk.startsWith(': heartbeat')) heartbeats++
    return write(chunk)
  }) as typeof res.write
  await until(() => heartbeats >= 3, 'three heartbeats')
  t.equal(quiet.sent.length, 1, 'still the first connection')
  t.same(kept.seen.errors, [])

  const silent = await listen(t, { plugin: { heartbeatSeconds: 3600 } })
  const dropped = record(t, { baseUrl: silent.baseUrl, token: token(1), fetch: silent.fetch, idleMs: 300, retryMs: 50 })
  await until(() => dropped.seen.hello.length >= 2, 'a second connection')
  t.match(dropped.seen.errors[0], [{ message: 'no event or heartbeat for 300 ms' }, true])
  t.equal(silent.sent[1].headers['last-event-id'], '0')
  await silent.streams[0].closed
  t.pass('the silent connection was closed')
})

t.test('the parser takes CRLF line ends and any chunking (what a proxy may do)', async (t) => {
  const { app, baseUrl } = await listen(t)
  // The real server's stream, passed on one byte at a time with CRLF line ends.
  const rechunking: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const encoder = new TextEncoder()
    const decoder = new TextDecoder()
    const body = new ReadableStream<Uint8Array>({
      async pull (controller) {
        const { value, done } = await reader.read()
        if (done) return controller.close()
        for (const byte of encoder.encode(decoder.decode(value).replace(/\n/g, '\r\n'))) controller.enqueue(new Uint8Array([byte]))
      },
      cancel: async () => reader.cancel()
    })
    return new Response(body, { status: response.status, headers: response.headers })
  }
  const { seen, revs } = record(t, { baseUrl, token: token(1), fetch: rechunking })
  await until(() => seen.hello.length === 1, 'hello')
  const c = client(app, token(1))
  await c.create('text', 'line one\nline two: with a colon')
  await c.create('other', { nested: ['x'] })
  await until(() => seen.changes.length === 2, 'two revisions')
  t.same(revs(), [1, 2])
  t.same(seen.changes.map((r) => r.changes[0].value), ['line one\nline two: with a colon', { nested: ['x'] }])
})

t.test('live(): a local copy of the effective preferences, kept current', async (t) => {
  const { app, baseUrl, fetch, sent } = await listen(t, { plugin: { keys: KEYS } })
  const admin = client(app, adminToken())
  // A site default that locks `layout`, set before the copy is read.
  t.equal((await admin.request('PUT', '/preference-defaults/site/by-key/layout/', { value: { columns: 3 }, locked: true })).statusCode, 201)
  const c = client(app, token(1))
  await c.create('volume', 4)

  const updates: Array<string[] | undefined> = []
  const copy = live({ baseUrl, token: token(1), fetch, onUpdate: (keys) => { updates.push(keys) } })
  t.after(async () => {
    copy.close()
    await copy.done
  })
  await copy.ready
  const fresh = async () => (await c.request('GET', '/user/me/preference/effective/')).json()
  t.same(copy.preferences, (await fresh()).preferences, 'the first read is the effective view')
  t.same(copy.preferences.theme, { value: 'light', source: 'registry', locked: false })
  t.same(updates, [undefined], 'read whole')
  t.equal(copy.rev, 1)

  await c.request('PUT', '/user/me/preference/by-key/theme/', { value: 'dark' })
  await until(() => copy.rev === 2, 'the set')
  t.same(copy.preferences.theme, { value: 'dark', source: 'user', locked: false })
  t.same(updates[1], ['theme'])

  // A delete: the registry's default shows through again (read from the server).
  await c.request('DELETE', '/user/me/preference/by-key/theme/')
  await until(() => copy.rev === 3, 'the delete')
  t.same(copy.preferences.theme, { value: 'light', source: 'registry', locked: false })
  t.ok(sent.some((s) => s.url === `${baseUrl}/user/me/preference/effective/?key=theme`), 'the deleted key read again')

  // One revision, several changes; a locked key keeps the scope's value whatever the user stores.
  await c.request('PATCH', '/user/me/preference/', { volume: null, 'tour.intro': true }, { 'content-type': 'application/merge-patch+json' })
  await admin.request('PUT', '/user/1/preference/by-key/layout/', { value: { columns: 1 } })
  await until(() => copy.rev === 5, 'a merge patch and an admin\'s write')
  t.notOk('volume' in copy.preferences, 'a deleted key without a default is gone')
  t.same(copy.preferences['tour.intro'], { value: true, source: 'user', locked: false })
  t.same(copy.preferences.layout, { value: { columns: 3 }, source: 'scope:site', locked: true })
  t.same(copy.preferences, (await fresh()).preferences, 'the copy is the effective view')

  // An erasure: a reset, and everything read again.
  // By an admin: the user may not delete the locked key they hold.
  const erased = await admin.request('DELETE', '/user/1/preference/')
  t.equal(erased.statusCode, 204)
  t.equal(erased.headers['preference-revision'], '6')
  await until(() => copy.rev === 6, `the erasure (${copy.rev}, ${JSON.stringify(updates)})`)
  t.same(updates.at(-1), undefined, 'read whole again')
  t.same(copy.preferences, (await fresh()).preferences)
  t.notOk('tour.intro' in copy.preferences)
  t.equal(sent.filter((s) => s.url.includes('/events/')).length, 1, 'all on one stream')
  t.notOk(sent.some((s) => /token/.test(s.url)), 'no token in any URL')
})

t.test('live(): a copy read while the stream drops catches up; ready rejects when it cannot start', async (t) => {
  const { app, baseUrl, fetch, streams } = await listen(t)
  const c = client(app, token(1))
  const copy = live({ baseUrl, token: token(1), fetch, retryMs: 100 })
  t.after(async () => {
    copy.close()
    await copy.done
  })
  await copy.ready
  streams[0].res.socket?.destroy()
  await c.create('a', 1)
  await c.create('b', 2)
  await c.request('DELETE', '/user/me/preference/by-key/a/')
  await until(() => copy.rev === 3, 'the revisions made while it was away')
  t.same(copy.preferences, { b: { value: 2, source: 'user', locked: false } })

  const refused = live({ baseUrl, token: 'bad', fetch })
  await t.rejects(refused.ready, { status: 401, code: 'PREFERENCE_AUTH_INVALID' })
  await refused.done
})
