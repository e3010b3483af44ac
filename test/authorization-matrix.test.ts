import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { adminToken, bearer, build, PREFIX, type StoredRow, token } from './helper.js'

// The authorization matrix: every route and method, every kind of caller, every kind of
// target, each cell with its expected status and code written out below. A denied request
// must leave the database exactly as it was; an allowed one must do what it says and touch
// nothing else. The database is put back to the same seed before every cell.

const OWNER = 1 // alice: the owner of preference A
const OTHER = 2 // bob: another user, owner of preference B
const ADMIN = 99
const NOBODY = 424242 // a user without preferences
const ABSENT_ID = 999_999

type Caller = 'owner' | 'other' | 'admin' | 'none'
const CALLERS: Caller[] = ['owner', 'other', 'admin', 'none']
const callerId: Record<Exclude<Caller, 'none'>, number> = { owner: OWNER, other: OTHER, admin: ADMIN }

const CODES: Record<number, string> = {
  401: 'PREFERENCE_AUTH_REQUIRED',
  403: 'PREFERENCE_FORBIDDEN',
  404: 'PREFERENCE_NOT_FOUND'
}

/** Expected statuses in CALLERS order: owner, other user, admin, no token. */
type Row = [number, number, number, number]

interface Target {
  what: string
  /** The path below /api/v2, given the seeded ids. */
  path: (ids: { a: number, b: number }) => string
  expected: Row
}

// Collections. `me` is each caller's own collection.
const collectionTargets = (ok: number): Target[] => [
  { what: 'own collection', path: () => `/user/${OWNER}/preference/`, expected: [ok, 403, ok, 401] },
  { what: 'own collection as me', path: () => '/user/me/preference/', expected: [ok, ok, ok, 401] },
  { what: 'other user\'s collection', path: () => `/user/${OTHER}/preference/`, expected: [403, ok, ok, 401] },
  { what: 'nonexistent user\'s collection', path: () => `/user/${NOBODY}/preference/`, expected: [403, 403, ok, 401] }
]

// Items. An id is found only under its owner's user id: anything else is a 404 to whoever
// may look at that user, and a 403 to whoever may not.
const itemTargets = (ok: number): Target[] => [
  { what: 'own preference', path: ({ a }) => `/user/${OWNER}/preference/${a}/`, expected: [ok, 403, ok, 401] },
  { what: 'own preference as me', path: ({ a }) => `/user/me/preference/${a}/`, expected: [ok, 404, 404, 401] },
  { what: 'other user\'s preference', path: ({ b }) => `/user/${OTHER}/preference/${b}/`, expected: [403, ok, ok, 401] },
  { what: 'other user\'s id under the owner', path: ({ b }) => `/user/${OWNER}/preference/${b}/`, expected: [404, 403, 404, 401] },
  { what: 'nonexistent id', path: () => `/user/${OWNER}/preference/${ABSENT_ID}/`, expected: [404, 403, 404, 401] },
  { what: 'nonexistent id under the other user', path: () => `/user/${OTHER}/preference/${ABSENT_ID}/`, expected: [403, 404, 404, 401] },
  { what: 'own preference, no trailing slash', path: ({ a }) => `/user/${OWNER}/preference/${a}`, expected: [ok, 403, ok, 401] }
]

interface Route {
  method: InjectOptions['method']
  kind: 'collection' | 'item'
  ok: number
  body?: Record<string, unknown>
}

const ROUTES: Route[] = [
  { method: 'POST', kind: 'collection', ok: 201, body: { key: 'new', value: { made: true } } },
  { method: 'GET', kind: 'collection', ok: 200 },
  { method: 'GET', kind: 'item', ok: 200 },
  { method: 'PATCH', kind: 'item', ok: 200, body: { value: ['patched'] } },
  { method: 'PUT', kind: 'item', ok: 200, body: { key: 'replaced', value: 7 } },
  { method: 'DELETE', kind: 'item', ok: 204 }
]

t.test('authorization matrix', async (t) => {
  const { app, db, rows } = await build(t)
  const tokens: Record<Caller, string | undefined> = {
    owner: token(OWNER), other: token(OTHER), admin: adminToken(ADMIN), none: undefined
  }

  // The seed: A (alice's) and B (bob's), made through the API, then remembered row by row.
  for (const [user, key, value] of [[OWNER, 'a', { owner: 'alice' }], [OTHER, 'b', { owner: 'bob' }]] as const) {
    const res = await app.inject({
      method: 'POST', url: `${PREFIX}/user/${user}/preference/`, headers: bearer(token(user)), payload: { key, value }
    })
    t.equal(res.statusCode, 201, `seed ${key}`)
  }
  const seed = await rows()
  t.equal(seed.length, 2)
  const ids = { a: seed[0].id, b: seed[1].id }

  async function reset (): Promise<void> {
    await db.deleteFrom('user_preference').execute()
    await db.insertInto('user_preference').values(seed.map((r) => ({ ...r }))).execute()
    t.same(await rows(), seed, 'reset to the seed') // a broken reset would invalidate every cell
  }

  const rowOf = (id: number): StoredRow | undefined => seed.find((r) => r.id === id)
  const asPreference = (r: StoredRow) => ({ ...r, value: JSON.parse(r.value) })

  let cells = 0
  for (const route of ROUTES) {
    const targets = route.kind === 'collection' ? collectionTargets(route.ok) : itemTargets(route.ok)
    for (const target of targets) {
      for (const [index, caller] of CALLERS.entries()) {
        const expected = target.expected[index]
        const path = target.path(ids)
        const what = `${route.method} ${target.what} (${path}) as ${caller}: ${expected}`
        await reset()
        const jwt = tokens[caller]
        const res: LightMyRequestResponse = await app.inject({
          method: route.method,
          url: `${PREFIX}${path}`,
          headers: {
            ...(jwt !== undefined && bearer(jwt)),
            ...(route.body !== undefined && { 'content-type': 'application/json' })
          },
          ...(route.body !== undefined && { payload: JSON.stringify(route.body) })
        })
        cells++
        t.equal(res.statusCode, expected, what)
        const after = await rows()

        if (expected >= 400) {
          const body = res.json()
          t.same({ statusCode: body.statusCode, code: body.code }, { statusCode: expected, code: CODES[expected] },
            `${what}: error body`)
          t.notMatch(res.body, /alice|bob/, `${what}: no stored value in the answer`)
          t.same(after, seed, `${what}: the database is unchanged`)
          continue
        }

        // Allowed: the effect, and nothing else.
        const targetUser = path.startsWith('/user/me/') ? callerId[caller as Exclude<Caller, 'none'>] : Number(path.split('/')[2])
        const itemId = route.kind === 'item' ? Number(path.split('/')[4]) : undefined
        const others = after.filter((r) => r.id !== itemId)
        switch (route.method) {
          case 'GET':
            if (route.kind === 'collection') {
              const list = res.json()
              t.same(list.results, seed.filter((r) => r.user_id === targetUser).map(asPreference), `${what}: that user's list`)
              t.equal(list.count, list.results.length, `${what}: count`)
            } else {
              t.same(res.json(), asPreference(rowOf(itemId as number) as StoredRow), `${what}: that preference`)
            }
            t.same(after, seed, `${what}: reading changes nothing`)
            break
          case 'POST': {
            const created = res.json()
            t.match(created, { user_id: targetUser, key: 'new', value: { made: true } }, `${what}: created for that user`)
            t.same(after, [...seed, after[2]], `${what}: one row added`)
            t.match(after[2], { id: created.id, user_id: targetUser, key: 'new', value: '{"made":true}' }, `${what}: stored`)
            break
          }
          case 'PATCH':
          case 'PUT': {
            const before = rowOf(itemId as number) as StoredRow
            const changed = after.find((r) => r.id === itemId)
            const expectedRow = route.method === 'PATCH'
              ? { ...before, value: '["patched"]' }
              : { ...before, key: 'replaced', value: '7' }
            t.match(changed, { ...expectedRow, last_updated_at: String }, `${what}: stored change`)
            t.same(res.json(), asPreference(changed as StoredRow), `${what}: answers the stored preference`)
            t.same(others, seed.filter((r) => r.id !== itemId), `${what}: other rows untouched`)
            break
          }
          case 'DELETE':
            t.equal(res.body, '', `${what}: no body`)
            t.same(after, seed.filter((r) => r.id !== itemId), `${what}: exactly that row is gone`)
            break
        }
      }
    }
  }
  t.equal(cells, ROUTES.reduce((n, r) => n + (r.kind === 'collection' ? 4 : 7) * CALLERS.length, 0), 'every cell ran')

  // The two kinds of 404 are one and the same answer: nothing tells another user's
  // preference from no preference.
  await reset()
  const foreign = await app.inject({ method: 'GET', url: `${PREFIX}/user/${OWNER}/preference/${ids.b}/`, headers: bearer(token(OWNER)) })
  const absent = await app.inject({ method: 'GET', url: `${PREFIX}/user/${OWNER}/preference/${ABSENT_ID}/`, headers: bearer(token(OWNER)) })
  t.same(foreign.json(), absent.json(), 'another user\'s id and an absent id answer the same 404')
})
