import t from 'tap'
import type { Caller } from '../index.js'
import { adminToken, build, client, token } from './helper.js'
import { KEYS } from './keys-fixture.js'

const MERGE = { 'content-type': 'application/merge-patch+json' }

// User 5 is in team-a; user 6 in no group; user 7 may manage team-a.
const plugin = {
  keys: KEYS,
  groupsOf: async (userId: number) => userId === 5 ? ['team-a'] : [],
  canManageScope: (caller: Caller, scope: string) => caller.id === 7 && scope === 'team-a'
}

t.test('site: anyone signed in reads it; admins write; PUT 201 then 200; list by key; DELETE 204 then 404', async (t) => {
  const test = await build(t, { plugin })
  const admin = client(test.app, adminToken())
  const user = client(test.app, token(6))

  const created = await admin.request('PUT', '/preference-defaults/site/by-key/theme/', { value: 'dark' })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { scope: 'site', key: 'theme', value: 'dark', locked: false })
  t.match(created.json().last_updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const replaced = await admin.request('PUT', '/preference-defaults/site/by-key/theme/', { value: 'light', locked: true })
  t.equal(replaced.statusCode, 200)
  t.match(replaced.json(), { value: 'light', locked: true })
  await admin.request('PUT', '/preference-defaults/site/by-key/layout/', { value: { columns: 3 } })

  const list = await user.request('GET', '/preference-defaults/site/')
  t.equal(list.statusCode, 200)
  t.same(list.json().results.map((d: { key: string }) => d.key), ['layout', 'theme'], 'ordered by key')
  t.equal(list.json().scope, 'site')
  t.match((await user.request('GET', '/preference-defaults/site/by-key/theme')).json(), { value: 'light', locked: true })
  t.same(await test.defaults(), { 'site/layout': '{"columns":3}', 'site/theme': '"light"!' })

  t.equal((await admin.request('DELETE', '/preference-defaults/site/by-key/theme/')).statusCode, 204)
  const gone = await admin.request('DELETE', '/preference-defaults/site/by-key/theme/')
  t.equal(gone.statusCode, 404)
  t.equal(gone.json().code, 'PREFERENCE_DEFAULT_NOT_FOUND')
  t.equal((await user.request('GET', '/preference-defaults/site/by-key/theme/')).json().code, 'PREFERENCE_DEFAULT_NOT_FOUND')
  t.same(await test.defaults(), { 'site/layout': '{"columns":3}' })
})

t.test('who may: members read their group, others 403; canManageScope writes; nobody else', async (t) => {
  const test = await build(t, { plugin })
  const admin = client(test.app, adminToken())
  await admin.request('PUT', '/preference-defaults/team-a/by-key/theme/', { value: 'dark' })

  t.equal((await client(test.app, token(5)).request('GET', '/preference-defaults/team-a/')).statusCode, 200, 'a member reads')
  const outsider = await client(test.app, token(6)).request('GET', '/preference-defaults/team-a/by-key/theme/')
  t.equal(outsider.statusCode, 403, 'a non-member does not')
  t.equal(outsider.json().code, 'PREFERENCE_FORBIDDEN')
  t.equal((await admin.request('GET', '/preference-defaults/team-b/')).statusCode, 200, 'an admin reads any scope')

  const manager = client(test.app, token(7))
  t.equal((await manager.request('PUT', '/preference-defaults/team-a/by-key/layout/', { value: { columns: 1 } })).statusCode, 201,
    'canManageScope lets user 7 write team-a')
  for (const [who, path] of [[manager, '/preference-defaults/site/by-key/theme/'], [client(test.app, token(5)), '/preference-defaults/team-a/by-key/theme/']] as const) {
    const put = await who.request('PUT', path, { value: 'light' })
    t.equal(put.statusCode, 403, path)
    t.equal(put.json().code, 'PREFERENCE_FORBIDDEN')
    t.equal((await who.request('DELETE', path)).statusCode, 403)
  }
  t.same(await test.defaults(), { 'team-a/layout': '{"columns":1}', 'team-a/theme': '"dark"' })
})

t.test('scope names and bodies: 400 for a bad scope, values pass the registry, the size limit and read-only', async (t) => {
  const test = await build(t, { plugin: { ...plugin, maxValueBytes: 64 } })
  const admin = client(test.app, adminToken())
  for (const scope of ['bad scope', 'a'.repeat(65), 'é']) {
    const res = await admin.request('GET', `/preference-defaults/${encodeURIComponent(scope)}/`)
    t.equal(res.statusCode, 400, scope)
    t.equal(res.json().code, 'PREFERENCE_INVALID_PATH_PARAMETER')
  }
  t.equal((await admin.request('GET', `/preference-defaults/${'a'.repeat(64)}/`)).statusCode, 200, '64 characters is fine')
  const invalid = await admin.request('PUT', '/preference-defaults/site/by-key/theme/', { value: 'blue' })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.json().code, 'PREFERENCE_VALUE_INVALID')
  t.equal((await admin.request('PUT', '/preference-defaults/site/by-key/free/', { value: 'x'.repeat(100) })).statusCode, 413)
  t.equal((await admin.request('PUT', '/preference-defaults/site/by-key/free/', { value: 1, locked: 'yes' })).statusCode, 400)
  const readOnly = await client(test.app, token(7)).request('PUT', '/preference-defaults/team-a/by-key/billing.plan/', { value: 'pro' })
  t.equal(readOnly.statusCode, 403)
  t.equal(readOnly.json().code, 'PREFERENCE_KEY_READ_ONLY')
  t.same(await test.defaults(), {})
})

t.test('a lock: the user\'s writes of that key are 403 PREFERENCE_KEY_LOCKED, their value stays (shadowed); admins write', async (t) => {
  const test = await build(t, { plugin })
  const admin = client(test.app, adminToken())
  const user = client(test.app, token(5))
  const own = (await user.create('theme', 'light')).json()
  await admin.request('PUT', '/preference-defaults/team-a/by-key/theme/', { value: 'dark', locked: true })
  const before = await test.rows()

  for (const res of [
    await user.request('PUT', '/user/5/preference/by-key/theme/', { value: 'dark' }),
    await user.request('PATCH', `/user/5/preference/${own.id as number}/`, { value: 'dark' }),
    await user.request('PUT', `/user/5/preference/${own.id as number}/`, { key: 'theme', value: 'dark' }),
    await user.request('DELETE', '/user/5/preference/by-key/theme/'),
    await user.request('DELETE', `/user/5/preference/${own.id as number}/`),
    await user.request('PATCH', '/user/5/preference/', JSON.stringify({ theme: null }), MERGE)
  ]) {
    t.equal(res.statusCode, 403, res.body)
    t.match(res.json(), { code: 'PREFERENCE_KEY_LOCKED', message: '"theme" is locked by the team-a scope' })
  }
  t.same(await test.rows(), before, 'the stored value stays')
  // A lock answers before a duplicate key, a stale If-Match or a missing row would.
  await admin.request('PUT', '/preference-defaults/team-a/by-key/sidebar/', { value: 'open', locked: true })
  for (const [res, what] of [
    [await user.create('theme', 'dark'), 'a create of a stored locked key (not 409)'],
    [await user.create('sidebar', 'closed'), 'a create of a locked key'],
    [await user.create('theme', 'blue'), 'an invalid value of a locked key (not 400)'],
    [await user.request('PUT', '/user/5/preference/by-key/theme/', { value: 'dark' }, { 'if-match': '"stale"' }), 'a stale If-Match (not 412)'],
    [await user.request('DELETE', '/user/5/preference/by-key/sidebar/'), 'a delete of a locked key never stored (not 404)']
  ] as const) {
    t.equal(res.statusCode, 403, what)
    t.equal(res.json().code, 'PREFERENCE_KEY_LOCKED', what)
  }
  t.same(await test.rows(), before, 'nothing was written')
  const renamed = await user.create('colour', 'light')
  t.equal((await user.request('PATCH', `/user/5/preference/${renamed.json().id as number}/`, { key: 'theme' })).statusCode, 403,
    'a rename onto a locked key too')
  t.equal((await client(test.app, token(6)).create('theme', 'light')).statusCode, 201, 'a user outside the group is not locked')
  t.equal((await admin.request('PUT', '/user/5/preference/by-key/theme/', { value: 'dark' })).statusCode, 200, 'an admin writes')
})
