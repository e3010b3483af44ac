import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { adminToken, bearer, build, client, type Client, PREFIX, token } from './helper.js'

const HOST = 'prefs.example:8080'
const ORIGIN = `http://${HOST}`
const ERROR_KEYS = ['code', 'error', 'message', 'statusCode']

interface Page {
  count: number
  next: string | null
  previous: string | null
  results: Array<{ id: number, user_id: number, key: string, value: unknown }>
}

type Assert = Test

function assertError (t: Assert, res: LightMyRequestResponse, statusCode: number, code: string, name = code): void {
  t.equal(res.statusCode, statusCode, `${name}: status`)
  const body = res.json()
  t.same(Object.keys(body).sort(), ERROR_KEYS, `${name}: exactly the error keys`)
  t.equal(body.statusCode, statusCode, `${name}: statusCode in body`)
  t.equal(body.code, code, `${name}: code`)
  t.type(body.message, 'string', `${name}: message`)
  t.notMatch(res.body, /\bSELECT\b|sqlite|\bat \S+ \(|\.[cm]?[jt]s:\d+/i, `${name}: no SQL or stack frames`)
}

/** Creates the keys in this order for the given user; returns their ids in creation order. */
async function createAll (t: Assert, c: Client, keys: string[], userId: number | string = 'me'): Promise<number[]> {
  const ids: number[] = []
  for (const key of keys) {
    const res = await c.create(key, { key }, userId)
    t.equal(res.statusCode, 201, `create ${key}`)
    ids.push(res.json().id)
  }
  return ids
}

/** GET the collection with the Host header HOST; `query` without its `?`. */
function list (c: Client, query = '', path = '/user/1/preference/'): Promise<LightMyRequestResponse> {
  return c.request('GET', `${path}${query === '' ? '' : `?${query}`}`, undefined, { host: HOST })
}

function page (res: LightMyRequestResponse): Page {
  return res.json() as Page
}

/** The query parameters of an absolute page URL, as a sorted list of [name, value]. */
function queryOf (url: string): Array<[string, string]> {
  return [...new URL(url).searchParams.entries()].sort()
}

t.test('the collection: with and without slash, with `me`; the page shape', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const [id] = await createAll(t, c, ['theme'])
  for (const path of ['/user/1/preference/', '/user/1/preference', '/user/me/preference/', '/user/me/preference']) {
    const res = await list(c, '', path)
    t.equal(res.statusCode, 200, path)
    t.match(res.headers['content-type'], /^application\/json/, path)
    const body = page(res)
    t.same(Object.keys(body).sort(), ['count', 'next', 'previous', 'results'], path)
    t.equal(body.count, 1, path)
    t.equal(body.next, null, path)
    t.equal(body.previous, null, path)
    t.equal(body.results.length, 1, path)
    t.same(Object.keys(body.results[0]).sort(), ['created_at', 'id', 'key', 'last_updated_at', 'user_id', 'value'], path)
    t.match(body.results[0], { id, user_id: 1, key: 'theme', value: { key: 'theme' } }, path)
  }
})

t.test('results are ordered by id ascending, not by key', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const other = client(app, token(2))
  const ids: number[] = []
  // Another user's preferences in between, so that user 1's ids are not contiguous.
  for (const key of ['m', 'b', 'z', 'a', 'k']) {
    ids.push((await c.create(key, 1)).json().id)
    t.equal((await other.create(key, 2)).statusCode, 201)
  }
  const body = page(await list(c))
  t.equal(body.count, 5)
  t.same(body.results.map((p) => p.key), ['m', 'b', 'z', 'a', 'k'])
  t.same(body.results.map((p) => p.id), ids)
  t.same(ids, [...ids].sort((a, b) => a - b), 'ids were assigned ascending')
})

t.test('the default limit is 100: 105 preferences give 100, next and no previous', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const keys = Array.from({ length: 105 }, (_, i) => `k${String(104 - i).padStart(3, '0')}`)
  const ids = await createAll(t, c, keys)

  const first = page(await list(c))
  t.equal(first.count, 105)
  t.equal(first.results.length, 100)
  t.same(first.results.map((p) => p.id), ids.slice(0, 100))
  t.equal(first.previous, null)
  t.type(first.next, 'string')
  t.ok(first.next?.startsWith(`${ORIGIN}${PREFIX}/user/1/preference/?`), String(first.next))
  t.same(queryOf(first.next as string), [['offset', '100']])

  const second = page(await list(c, 'offset=100'))
  t.equal(second.count, 105)
  t.same(second.results.map((p) => p.id), ids.slice(100))
  t.equal(second.next, null)
  t.type(second.previous, 'string')
  t.equal(Number(new URL(second.previous as string).searchParams.get('offset') ?? 0), 0)

  const all = page(await list(c, 'limit=1000'))
  t.equal(all.count, 105, 'limit=1000 is accepted')
  t.same(all.results.map((p) => p.id), ids)
  t.equal(all.next, null)
  t.equal(all.previous, null)
})

t.test('limit and offset page through 7 preferences, 3 at a time', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const ids = await createAll(t, c, ['g', 'c', 'e', 'a', 'f', 'b', 'd'])

  const first = page(await list(c, 'x=y&limit=3'))
  t.equal(first.count, 7)
  t.same(first.results.map((p) => p.id), ids.slice(0, 3))
  t.equal(first.previous, null)
  t.ok(first.next?.startsWith(`${ORIGIN}${PREFIX}/user/1/preference/?`), String(first.next))
  t.same(queryOf(first.next as string), [['limit', '3'], ['offset', '3'], ['x', 'y']])

  const middle = page(await list(c, 'x=y&limit=3&offset=3'))
  t.equal(middle.count, 7)
  t.same(middle.results.map((p) => p.id), ids.slice(3, 6))
  t.same(queryOf(middle.next as string), [['limit', '3'], ['offset', '6'], ['x', 'y']])
  t.ok(middle.previous?.startsWith(`${ORIGIN}${PREFIX}/user/1/preference/?`), String(middle.previous))
  const previous = new URL(middle.previous as string)
  t.equal(Number(previous.searchParams.get('offset') ?? 0), 0, 'previous of offset 3 is offset 0')
  t.equal(previous.searchParams.get('limit'), '3')
  t.equal(previous.searchParams.get('x'), 'y')

  const last = page(await list(c, 'x=y&limit=3&offset=6'))
  t.equal(last.count, 7)
  t.same(last.results.map((p) => p.id), ids.slice(6))
  t.equal(last.next, null, 'the last page has no next')
  t.same(queryOf(last.previous as string), [['limit', '3'], ['offset', '3'], ['x', 'y']])

  const offset5 = page(await list(c, 'limit=3&offset=5'))
  t.same(offset5.results.map((p) => p.id), ids.slice(5), 'offset need not be a multiple of limit')
  t.equal(offset5.next, null)
  t.same(queryOf(offset5.previous as string), [['limit', '3'], ['offset', '2']])

  // Boundaries: a page that ends exactly at the count has no next.
  for (const query of ['limit=7', 'limit=4&offset=3', 'limit=1&offset=6']) {
    const body = page(await list(c, query))
    t.equal(body.count, 7, query)
    t.equal(body.results[body.results.length - 1]?.id, ids[6], `${query}: ends with the last`)
    t.equal(body.next, null, `${query}: no next`)
  }
  const almost = page(await list(c, 'limit=6'))
  t.same(queryOf(almost.next as string), [['limit', '6'], ['offset', '6']], 'one left: next')
  // previous never goes below offset 0.
  for (const query of ['limit=3&offset=2', 'limit=5&offset=1', 'limit=1000&offset=6']) {
    const body = page(await list(c, query))
    t.type(body.previous, 'string', query)
    t.equal(Number(new URL(body.previous as string).searchParams.get('offset') ?? 0), 0, `${query}: previous is offset 0`)
  }
})

t.test('following next walks every preference exactly once; previous walks back', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const ids = await createAll(t, c, ['g', 'c', 'e', 'a', 'f', 'b', 'd'])

  const strip = (url: string): string => {
    t.ok(url.startsWith(`${ORIGIN}/`), url)
    t.ok(url.slice(ORIGIN.length).startsWith(`${PREFIX}/`), url)
    return url.slice(ORIGIN.length + PREFIX.length)
  }
  const follow = async (url: string): Promise<Page> => {
    const res = await c.request('GET', strip(url), undefined, { host: HOST })
    t.equal(res.statusCode, 200, url)
    return page(res)
  }

  const seen: number[] = []
  let current = page(await list(c, 'limit=3'))
  const pages = [current]
  seen.push(...current.results.map((p) => p.id))
  while (current.next !== null && pages.length < 10) {
    current = await follow(current.next)
    t.equal(current.count, 7)
    pages.push(current)
    seen.push(...current.results.map((p) => p.id))
  }
  t.equal(pages.length, 3)
  t.same(seen, ids, 'each preference once, in id order')

  const back: number[][] = []
  while (current.previous !== null && back.length < 10) {
    current = await follow(current.previous)
    back.push(current.results.map((p) => p.id))
  }
  t.same(back, [ids.slice(3, 6), ids.slice(0, 3)])

  // `me` paths page the same way.
  const mine = page(await list(c, 'limit=4', '/user/me/preference'))
  t.same(mine.results.map((p) => p.id), ids.slice(0, 4))
  const rest = await follow(mine.next as string)
  t.same(rest.results.map((p) => p.id), ids.slice(4))
  t.equal(rest.next, null)
})

t.test('next and previous use the scheme and host of the request', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  await createAll(t, c, ['a', 'b', 'c'])
  const res = await app.inject({ method: 'GET', url: `${PREFIX}/user/1/preference/?limit=1&offset=1`, headers: bearer(token(1)) })
  const body = page(res)
  // light-my-request's default Host header
  const host = 'localhost:80'
  t.ok(body.next?.startsWith(`http://${host}${PREFIX}/user/1/preference/?`), String(body.next))
  t.ok(body.previous?.startsWith(`http://${host}${PREFIX}/user/1/preference/?`), String(body.previous))

  const other = page(await c.request('GET', '/user/1/preference?limit=1', undefined, { host: 'other.example' }))
  t.ok(other.next?.startsWith(`http://other.example${PREFIX}/user/1/preference?`), String(other.next))
})

t.test('`key` and `search` are exact, case-sensitive filters; count counts matches', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  const [theme, , themes] = await createAll(t, c, ['theme', 'Theme2', 'themes', 'language'])
  const keysOf = async (query: string): Promise<{ count: number, keys: string[], ids: number[] }> => {
    const res = await list(c, query)
    t.equal(res.statusCode, 200, query)
    const body = page(res)
    return { count: body.count, keys: body.results.map((p) => p.key), ids: body.results.map((p) => p.id) }
  }
  t.same(await keysOf('key=theme'), { count: 1, keys: ['theme'], ids: [theme] })
  t.same(await keysOf('search=theme'), { count: 1, keys: ['theme'], ids: [theme] })
  t.same(await keysOf('key=themes'), { count: 1, keys: ['themes'], ids: [themes] })
  t.same(await keysOf('key=Theme'), { count: 0, keys: [], ids: [] }, 'key is case-sensitive')
  t.same(await keysOf('search=THEME'), { count: 0, keys: [], ids: [] }, 'search is case-sensitive')
  t.same(await keysOf('search=the'), { count: 0, keys: [], ids: [] }, 'search is not a prefix match')
  t.same(await keysOf('key=heme'), { count: 0, keys: [], ids: [] }, 'key is not a substring match')
  t.same(await keysOf('search=%25'), { count: 0, keys: [], ids: [] }, 'no LIKE wildcards')
  t.same(await keysOf('key=them_'), { count: 0, keys: [], ids: [] }, 'no LIKE wildcards')
  t.same(await keysOf('key=theme&search=theme'), { count: 1, keys: ['theme'], ids: [theme] }, 'both, equal')
  t.same(await keysOf('key=theme&search=language'), { count: 0, keys: [], ids: [] }, 'both, different')

  // The filter is kept in the page links.
  const body = page(await list(c, 'key=theme&offset=1&limit=1'))
  t.equal(body.count, 1)
  t.same(body.results, [])
  t.equal(body.next, null)
  t.same(queryOf(body.previous as string), [['key', 'theme'], ['limit', '1'], ['offset', '0']])
})

t.test('a user sees only their own preferences; an admin lists anyone\'s', async (t) => {
  const { app } = await build(t)
  const one = client(app, token(1))
  const two = client(app, token(2))
  const oneIds = await createAll(t, one, ['shared', 'one-only'])
  const twoIds = await createAll(t, two, ['shared', 'two-only', 'two-more'])

  const mine = page(await list(one))
  t.equal(mine.count, 2)
  t.same(mine.results.map((p) => p.id), oneIds)
  t.ok(mine.results.every((p) => p.user_id === 1))
  const theirs = page(await list(two, '', '/user/me/preference/'))
  t.equal(theirs.count, 3)
  t.same(theirs.results.map((p) => p.id), twoIds)
  t.same(page(await list(one, 'key=two-only')).results, [], 'a filter does not reach other users')

  assertError(t, await list(two, '', '/user/1/preference/'), 403, 'PREFERENCE_FORBIDDEN', 'user 2 lists user 1')
  const admin = client(app, adminToken())
  const byAdmin = page(await list(admin, '', '/user/2/preference/'))
  t.same(byAdmin.results.map((p) => p.id), twoIds)
  t.same(page(await list(admin, '', '/user/me/preference/')), { count: 0, next: null, previous: null, results: [] })
})

t.test('an empty list', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  for (const query of ['', 'limit=1', 'key=nothing', 'offset=0']) {
    const res = await list(c, query)
    t.equal(res.statusCode, 200, query)
    t.same(res.json(), { count: 0, next: null, previous: null, results: [] }, query)
  }
  await createAll(t, client(app, token(2)), ['a'])
  t.same((await list(c)).json(), { count: 0, next: null, previous: null, results: [] }, 'other users do not count')
})

t.test('an offset beyond the count gives no results and the right count', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  await createAll(t, c, ['a', 'b', 'c', 'd', 'e', 'f', 'g'])
  for (const query of ['offset=7', 'offset=10&limit=3', 'offset=1000000']) {
    const res = await list(c, query)
    t.equal(res.statusCode, 200, query)
    const body = page(res)
    t.equal(body.count, 7, query)
    t.same(body.results, [], query)
    t.equal(body.next, null, query)
  }
})

t.test('invalid limit and offset are 400 PREFERENCE_VALIDATION_FAILED', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  await createAll(t, c, ['a'])
  const bad = [
    'limit=0', 'limit=1001', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=1&limit=2',
    'offset=-1', 'offset=abc', 'offset=1.5', 'offset=1&offset=2'
  ]
  for (const query of bad) {
    for (const path of ['/user/1/preference/', '/user/me/preference']) {
      assertError(t, await list(c, query, path), 400, 'PREFERENCE_VALIDATION_FAILED', `${path}?${query}`)
    }
  }
  for (const query of ['limit=1', 'limit=1000', 'offset=0', 'limit=3&offset=0']) {
    const res = await list(c, query)
    t.equal(res.statusCode, 200, query)
    t.equal(page(res).count, 1, query)
  }
})

t.test('listing needs a token', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: `${PREFIX}/user/1/preference/` })
  assertError(t, res, 401, 'PREFERENCE_AUTH_REQUIRED')
})
