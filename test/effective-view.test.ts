import t from 'tap'
import { openDatabase } from '../index.js'
import { buildApp } from '../server/app.js'
import { adminToken, bearer, build, client, freshDatabaseUrl, PREFIX, SECRET, token } from './helper.js'
import { KEYS } from './keys-fixture.js'

interface Entry { value: unknown, source: string, locked: boolean, user_value_invalid?: boolean }
type View = { preferences: Record<string, Entry> }

// User 5: groups g1 then g2 (g2 takes precedence); user 6: none.
const plugin = { keys: KEYS, groupsOf: (userId: number) => userId === 5 ? ['g1', 'g2'] : [] }

t.test('layers: registry default, then site, then groups in order, then the user\'s own value', async (t) => {
  const { app } = await build(t, { plugin })
  const admin = client(app, adminToken())
  const five = client(app, token(5))

  const view = async (c = five, query = ''): Promise<View> => (await c.request('GET', `/user/me/preference/effective/${query}`)).json()
  t.same((await view()).preferences, {
    'billing.plan': { value: 'free', source: 'registry', locked: false },
    layout: { value: { columns: 2 }, source: 'registry', locked: false },
    theme: { value: 'light', source: 'registry', locked: false }
  }, 'before anything is set: the registered defaults')

  await admin.request('PUT', '/preference-defaults/site/by-key/theme/', { value: 'dark' })
  await admin.request('PUT', '/preference-defaults/site/by-key/motd/', { value: 'hello' })
  t.match((await view()).preferences.theme, { value: 'dark', source: 'scope:site' })
  await admin.request('PUT', '/preference-defaults/g1/by-key/theme/', { value: 'light' })
  t.match((await view()).preferences.theme, { value: 'light', source: 'scope:g1' })
  await admin.request('PUT', '/preference-defaults/g2/by-key/theme/', { value: 'dark' })
  t.match((await view()).preferences.theme, { value: 'dark', source: 'scope:g2' }, 'the later group wins')
  await five.create('theme', 'light')
  await five.create('mine', [1, 2])
  const all = await view()
  t.same(all.preferences.theme, { value: 'light', source: 'user', locked: false }, 'the user\'s own value wins')
  t.same(all.preferences.mine, { value: [1, 2], source: 'user', locked: false })
  t.same(all.preferences.motd, { value: 'hello', source: 'scope:site', locked: false }, 'a key only a scope sets')
  t.same(Object.keys(all.preferences), ['billing.plan', 'layout', 'mine', 'motd', 'theme'])

  const six = await view(client(app, token(6)))
  t.match(six.preferences.theme, { value: 'dark', source: 'scope:site' }, 'user 6 has no groups: site applies')
  t.notOk('mine' in six.preferences, 'nobody else\'s keys')
  const byAdmin = await admin.request('GET', '/user/5/preference/effective/')
  t.match(byAdmin.json().preferences.theme, { source: 'user' }, 'an admin reads user 5\'s view')
})

t.test('locks: a locked scope wins over the user; where several lock, the lowest precedence (site) wins', async (t) => {
  const { app } = await build(t, { plugin })
  const admin = client(app, adminToken())
  const five = client(app, token(5))
  await five.create('theme', 'light')
  await admin.request('PUT', '/preference-defaults/g2/by-key/theme/', { value: 'dark', locked: true })
  const get = async () => (await five.request('GET', '/user/5/preference/effective/?key=theme')).json().preferences.theme
  t.same(await get(), { value: 'dark', source: 'scope:g2', locked: true })
  await admin.request('PUT', '/preference-defaults/g1/by-key/theme/', { value: 'light', locked: true })
  t.same(await get(), { value: 'light', source: 'scope:g1', locked: true }, 'g1 (lower) over g2')
  await admin.request('PUT', '/preference-defaults/site/by-key/theme/', { value: 'dark', locked: true })
  t.same(await get(), { value: 'dark', source: 'scope:site', locked: true }, 'site over groups')
  t.equal((await five.request('GET', '/user/5/preference/by-key/theme/')).json().value, 'light', 'the stored value is still there')
})

t.test('the key filter: repeated `key`, keys nobody set are left out, a pattern\'s key asked for by name', async (t) => {
  const { app } = await build(t, { plugin })
  const five = client(app, token(5))
  await five.create('tour.welcome', true)
  const res = await five.request('GET', '/user/5/preference/effective/?key=theme&key=tour.welcome&key=nothing')
  t.equal(res.statusCode, 200)
  t.same(res.json().preferences, {
    theme: { value: 'light', source: 'registry', locked: false },
    'tour.welcome': { value: true, source: 'user', locked: false }
  })
  const bad = await five.request('GET', '/user/5/preference/effective/?key=')
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'PREFERENCE_VALIDATION_FAILED')
})

t.test('a stored value the current schema rejects is skipped and flagged; the plain endpoints still return it', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(() => db.destroy())
  const old = await build(t, { plugin: { database: db } })
  const c = client(old.app, token(5))
  await c.create('theme', 'blue')
  await c.create('volume', 99)

  const { app } = await build(t, { plugin: { ...plugin, database: db } })
  const five = client(app, token(5))
  const view = (await five.request('GET', '/user/5/preference/effective/')).json() as View
  t.same(view.preferences.theme, { value: 'light', source: 'registry', locked: false, user_value_invalid: true },
    'the registry default applies instead')
  t.same(view.preferences.volume, { value: null, source: 'registry', locked: false, user_value_invalid: true },
    'nothing below it: null')
  t.equal((await five.request('GET', '/user/5/preference/by-key/theme/')).json().value, 'blue')
})

t.test('ETag and If-None-Match: 304 while nothing changes, a new tag after a change to any layer', async (t) => {
  const { app } = await build(t, { plugin })
  const five = client(app, token(5))
  const first = await five.request('GET', '/user/5/preference/effective/')
  const etag = first.headers.etag as string
  t.match(etag, /^"[A-Za-z0-9_-]+"$/)
  const again = await five.request('GET', '/user/5/preference/effective/', undefined, { 'if-none-match': etag })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  await client(app, adminToken()).request('PUT', '/preference-defaults/g1/by-key/theme/', { value: 'dark' })
  const changed = await five.request('GET', '/user/5/preference/effective/', undefined, { 'if-none-match': etag })
  t.equal(changed.statusCode, 200, 'a scope default changed it')
  t.not(changed.headers.etag, etag)
})

t.test('without a registry: the user\'s own keys, source user', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  await c.create('a', { x: 1 })
  t.same((await c.request('GET', '/user/1/preference/effective')).json(), { rev: 1, preferences: { a: { value: { x: 1 }, source: 'user', locked: false } } })
  t.equal((await client(app, token(2)).request('GET', '/user/1/preference/effective/')).statusCode, 403, 'another user\'s view: 403')
})

t.test('the standalone server: the caller\'s groups come from the token\'s groups claim; another user\'s are not known', async (t) => {
  const app = await buildApp({
    jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(t), logger: false, plugin: { keys: KEYS }
  })
  t.after(() => app.close())
  const as = async (bearerToken: string, method: 'GET' | 'PUT', url: string, payload?: object) =>
    app.inject({ method, url: `${PREFIX}${url}`, headers: bearer(bearerToken), ...(payload !== undefined && { payload }) })
  await as(adminToken(), 'PUT', '/preference-defaults/design/by-key/theme/', { value: 'dark' })
  const member = token({ sub: 5, claims: { groups: ['staff', 'design'] } })
  t.match((await as(member, 'GET', '/user/me/preference/effective/?key=theme')).json().preferences.theme,
    { value: 'dark', source: 'scope:design' })
  t.equal((await as(member, 'GET', '/preference-defaults/design/')).statusCode, 200, 'a member by the claim reads the group')
  t.equal((await as(token(5), 'GET', '/preference-defaults/design/')).statusCode, 403, 'without the claim, not a member')
  t.match((await as(adminToken(), 'GET', '/user/5/preference/effective/?key=theme')).json().preferences.theme,
    { value: 'light', source: 'registry' }, 'an admin reading user 5: only site applies')
})

t.test('a view read again unchanged keeps its ETag; a scope default changed in between (no user revision) changes it', async (t) => {
  const { app } = await build(t, { plugin })
  const admin = client(app, adminToken())
  const five = client(app, token(5))
  await five.create('mine', 1)
  const first = await five.request('GET', '/user/me/preference/effective/')
  const again = await five.request('GET', '/user/me/preference/effective/')
  t.equal(again.headers.etag, first.headers.etag)
  t.equal(again.body, first.body)
  t.equal((await five.request('GET', '/user/me/preference/effective/', undefined, { 'if-none-match': String(first.headers.etag) })).statusCode, 304)

  await admin.request('PUT', '/preference-defaults/g2/by-key/theme/', { value: 'dark' })
  const changed = await five.request('GET', '/user/me/preference/effective/', undefined, { 'if-none-match': String(first.headers.etag) })
  t.equal(changed.statusCode, 200, 'the old ETag no longer matches')
  t.not(changed.headers.etag, first.headers.etag)
  t.same(changed.json().preferences.theme, { value: 'dark', source: 'scope:g2', locked: false })
  t.equal(changed.json().rev, first.json().rev, 'the user\'s revision did not move')

  const six = await client(app, token(6)).request('GET', '/user/me/preference/effective/')
  t.match(six.json().preferences.theme, { source: 'registry' }, 'another user, other scopes: their own view')
})
