import { request as httpRequest } from 'node:http'
import t from 'tap'
import { build, client, PREFIX, token } from './helper.js'

// An erasure as an open event stream sees it, over a real socket: `reset` with the erasure's
// revision, never the erased keys; an import arrives as one `change`.

/** Reads a stream's events (blocks of lines) as they come; `next` waits for one. */
function open (url: string, userId: number, headers: Record<string, string> = {}) {
  const queue: string[] = []
  const waiting: Array<(block: string) => void> = []
  let buffer = ''
  const req = httpRequest(url, { headers: { authorization: `Bearer ${token(userId)}`, ...headers } }, (res) => {
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      buffer += chunk
      let at: number
      while ((at = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, at)
        buffer = buffer.slice(at + 2)
        if (block.startsWith(':')) continue // heartbeat
        const waiter = waiting.shift()
        if (waiter !== undefined) waiter(block)
        else queue.push(block)
      }
    })
  })
  req.end()
  return {
    next: async (ms = 5000): Promise<string> => {
      const queued = queue.shift()
      if (queued !== undefined) return queued
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms)
        waiting.push((block) => { clearTimeout(timer); resolve(block) })
      })
    },
    close: () => { req.destroy() }
  }
}

t.test('open streams get reset {rev} on an erasure; an import is one change naming only what changed', async (t) => {
  const test = await build(t)
  const address = await test.app.listen({ host: '127.0.0.1', port: 0 })
  const c = client(test.app, token(1))
  await c.create('a', 1)
  await c.create('b', 2)

  const live = open(`${address}${PREFIX}/user/1/preference/events/`, 1)
  t.after(() => live.close())
  t.equal(await live.next(), 'event: hello\ndata: {"rev":2}')
  const other = open(`${address}${PREFIX}/user/2/preference/events/`, 2)
  t.after(() => other.close())
  t.equal(await other.next(), 'event: hello\ndata: {"rev":0}')

  await c.request('POST', '/user/1/preference/import/', { preferences: { a: 1, b: 3, c: 4 } })
  const change = await live.next()
  t.match(change, /^id: 3\nevent: change\ndata: /)
  const revision = JSON.parse(change.split('data: ')[1])
  t.same(revision.changes.map((x: { key: string, value: unknown }) => [x.key, x.value]), [['b', 3], ['c', 4]], 'a unchanged: not in it')

  t.equal((await c.request('DELETE', '/user/1/preference/')).statusCode, 204)
  t.equal(await live.next(), 'event: reset\ndata: {"rev":4}', 'reset with the erasure\'s revision')
  await c.create('z', 1)
  t.match(await live.next(), /^id: 5\nevent: change\n/, 'then live again')

  // A client that comes back with a revision from before the erasure: reset, not the old keys.
  const resumed = open(`${address}${PREFIX}/user/1/preference/events/`, 1, { 'last-event-id': '2' })
  t.after(() => resumed.close())
  t.equal(await resumed.next(), 'event: hello\ndata: {"rev":5}')
  t.equal(await resumed.next(), 'event: reset\ndata: {"rev":5}')
  // Nobody else's stream heard anything.
  await client(test.app, token(2)).create('mine', 1)
  t.match(await other.next(), /^id: 1\nevent: change\n/)
})
