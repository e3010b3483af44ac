import t from 'tap'
import { adminToken, build, client, type TestApp, token } from './helper.js'
import { KEYS } from './keys-fixture.js'

// Export, import (merge, replace, dry run) and erasure over HTTP, with the database checked
// behind the API after each.

const plugin = { keys: KEYS, groupsOf: (userId: number) => userId === 5 ? ['g1'] : [] }

/** `user:key` to stored JSON text, for every row. */
async function stored ({ rows }: TestApp): Promise<Record<string, string>> {
  return Object.fromEntries((await rows()).map((r) => [`${r.user_id}:${r.key}`, r.value]))
}

/** Everything behind a user's preferences: rows, revision counter, change log. */
async function snapshot (test: TestApp, userId: number) {
  const rows = (await test.rows()).filter((r) => r.user_id === userId)
  const revision = await test.db.selectFrom('user_revision').selectAll().where('user_id', '=', userId).executeTakeFirst()
  const changes = await test.db.selectFrom('preference_change').select(['rev', 'changes']).where('user_id', '=', userId).orderBy('rev').execute()
  return {
    rows,
    rev: revision === undefined ? 0 : Number(revision.rev),
    floor: revision === undefined ? 0 : Number(revision.floor),
    changes: changes.map((c) => [Number(c.rev), c.changes])
  }
}

const importUrl = (userId: number | 'me', query = '') => `/user/${userId}/preference/import/${query}`

t.test('export: the user\'s own preferences as stored, as a download, with the revision', async (t) => {
  const test = await build(t, { plugin })
  const c = client(test.app, token(1))
  await c.create('theme', 'dark')
  await c.request('POST', '/user/me/preference/', '{"key":"exact","value":{"b":1,"a":1.0,"10":[1e2]}}')
  await c.create('tour.welcome', true)
  await client(test.app, token(2)).create('not-mine', 1)

  const res = await c.request('GET', '/user/me/preference/export/')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-disposition'], 'attachment; filename="preferences-user-1-rev-3.json"')
  t.match(res.headers['content-type'], /^application\/json/)
  const doc = res.json()
  t.same(Object.keys(doc), ['format', 'user_id', 'exported_at', 'rev', 'preferences'])
  t.match(doc, { format: 'preferences-export/1', user_id: 1, rev: 3 })
  t.match(doc.exported_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.ok(res.body.includes('"preferences":{"theme":"dark","exact":{"b":1,"a":1.0,"10":[1e2]},"tour.welcome":true}'),
    'values as stored (digits, key order), keys in creation order; no defaults, nobody else\'s')

  const empty = await client(test.app, token(7)).request('GET', '/user/7/preference/export')
  t.equal(empty.statusCode, 200, 'without the trailing slash too')
  t.match(empty.json(), { user_id: 7, rev: 0, preferences: {} })
  const byAdmin = await client(test.app, adminToken()).request('GET', '/user/1/preference/export/')
  t.equal(byAdmin.json().user_id, 1, 'an admin exports anyone')
})

t.test('export, then import into another user: the same effective view; the report lists everything as created', async (t) => {
  const test = await build(t, { plugin })
  const one = client(test.app, token(1))
  await one.create('theme', 'dark')
  await one.create('layout', { columns: 3, dense: true })
  await one.create('tour.welcome', true)
  await one.create('free', { nested: [1, { x: null }] })
  const exported = (await one.request('GET', '/user/1/preference/export/')).json()

  const two = client(test.app, token(2))
  await two.create('old', 'kept in merge mode')
  const res = await two.request('POST', importUrl(2), exported)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['preference-revision'], '2')
  t.same(res.json(), { rev: 2, dry_run: false, created: ['free', 'layout', 'theme', 'tour.welcome'], updated: [], deleted: [], unchanged: [] })

  const view = async (c: typeof one) => (await c.request('GET', '/user/me/preference/effective/')).json().preferences
  const expected = await view(one)
  const got = await view(two)
  delete got.old
  t.same(got, expected, 'the same effective view, key by key')
  t.same(Object.keys((await two.request('GET', '/user/2/preference/export/')).json().preferences), ['old', 'theme', 'layout', 'tour.welcome', 'free'],
    'created in the document\'s order')
  const s = await snapshot(test, 2)
  t.equal(s.rev, 2)
  t.same(JSON.parse(s.changes[1][1] as string).map((c: { op: string, key: string }) => `${c.op} ${c.key}`),
    ['set theme', 'set layout', 'set tour.welcome', 'set free'], 'one revision for the import')
})

t.test('merge and replace: only changed keys are written and logged; replace deletes what the document lacks', async (t) => {
  const test = await build(t)
  const c = client(test.app, token(1))
  await c.create('same', { a: 1 })
  await c.create('changes', 1)
  await c.create('reordered', { a: 1, b: 2 })
  await c.create('gone', true)
  await client(test.app, token(2)).create('gone', 'other user')
  const before = await snapshot(test, 1)

  const merged = await c.request('POST', importUrl(1), { preferences: { same: { a: 1 }, changes: 2, reordered: { b: 2, a: 1 }, added: null } })
  t.same(merged.json(), { rev: 5, dry_run: false, created: ['added'], updated: ['changes', 'reordered'], deleted: [], unchanged: ['same'] })
  const afterMerge = await snapshot(test, 1)
  t.same(afterMerge.rows.find((r) => r.key === 'same'), before.rows.find((r) => r.key === 'same'), 'an unchanged key is not written (last_updated_at kept)')
  t.same(JSON.parse(afterMerge.changes[4][1] as string).map((x: { op: string, key: string, value: unknown }) => [x.op, x.key, x.value]),
    [['set', 'changes', 2], ['set', 'reordered', { b: 2, a: 1 }], ['set', 'added', null]], 'the revision names the changed keys only')

  const replaced = await c.request('POST', importUrl('me', '?mode=replace'), { preferences: { same: { a: 1 }, changes: 3 } })
  t.same(replaced.json(), { rev: 6, dry_run: false, created: [], updated: ['changes'], deleted: ['added', 'gone', 'reordered'], unchanged: ['same'] })
  t.same(await stored(test), { '1:same': '{"a":1}', '1:changes': '3', '2:gone': '"other user"' }, 'another user\'s keys are untouched')
  const log = await snapshot(test, 1)
  t.same(JSON.parse(log.changes[5][1] as string).map((x: { op: string, key: string }) => `${x.op} ${x.key}`),
    ['delete reordered', 'delete gone', 'delete added', 'set changes'], 'deletions (in id order), then sets')

  const noop = await c.request('POST', importUrl(1, '?mode=replace'), { preferences: { same: { a: 1 }, changes: 3 } })
  t.same(noop.json(), { rev: 6, dry_run: false, created: [], updated: [], deleted: [], unchanged: ['changes', 'same'] })
  t.equal(noop.headers['preference-revision'], '6', 'nothing changed: no revision')
  t.same(await snapshot(test, 1), log, 'nothing written')

  const emptied = await c.request('POST', importUrl(1, '?mode=replace'), { preferences: {} })
  t.same(emptied.json(), { rev: 7, dry_run: false, created: [], updated: [], deleted: ['changes', 'same'], unchanged: [] })
  t.same(await stored(test), { '2:gone': '"other user"' })
})

t.test('a dry run reports exactly what the real run does, and writes nothing', async (t) => {
  const test = await build(t, { plugin })
  const c = client(test.app, token(1))
  await c.create('theme', 'dark')
  await c.create('keep', 1)
  await c.create('drop', 1)
  const body = { format: 'preferences-export/1', user_id: 42, exported_at: 'whenever', rev: 99, preferences: { theme: 'light', keep: 1, fresh: [1] } }
  const before = await snapshot(test, 1)

  const dry = await c.request('POST', importUrl(1, '?mode=replace&dry_run=true'), body)
  t.equal(dry.statusCode, 200)
  t.same(dry.json(), { rev: 3, dry_run: true, created: ['fresh'], updated: ['theme'], deleted: ['drop'], unchanged: ['keep'] })
  t.equal(dry.headers['preference-revision'], '3')
  t.same(await snapshot(test, 1), before, 'rows, revision and change log as they were')

  const real = await c.request('POST', importUrl(1, '?mode=replace&dry_run=false'), body)
  t.same({ ...real.json(), rev: 3, dry_run: true }, dry.json(), 'the same report')
  t.equal(real.json().rev, 4)

  // A dry run is refused for the same reasons as the real one.
  const tooMany = await build(t, { plugin: { maxPreferencesPerUser: 2 } })
  const dryTooMany = await client(tooMany.app, token(1)).request('POST', importUrl(1, '?dry_run=true'), { preferences: { a: 1, b: 2, c: 3 } })
  t.equal(dryTooMany.statusCode, 409)
  t.equal(dryTooMany.json().code, 'PREFERENCE_LIMIT_REACHED')
})

t.test('all or nothing: one refused value refuses the whole import, and nothing changes', async (t) => {
  const test = await build(t, { plugin })
  const c = client(test.app, token(1))
  await c.create('theme', 'dark')
  const before = await snapshot(test, 1)
  const cases: Array<[string, unknown, number, string, RegExp?]> = [
    ['', { preferences: { a: 1, theme: 'blue', z: 2 } }, 400, 'PREFERENCE_VALUE_INVALID', /"theme"/],
    ['?mode=replace', { preferences: { a: 1, 'tour.x': 'yes' } }, 400, 'PREFERENCE_VALUE_INVALID', /"tour\.x"/],
    ['', { preferences: { ok: 1, '': 2 } }, 400, 'PREFERENCE_VALIDATION_FAILED', /must not be empty/],
    ['', { preferences: { ok: 1, 'bad\u0001': 2 } }, 400, 'PREFERENCE_VALIDATION_FAILED'],
    ['', { preferences: [1, 2] }, 400, 'PREFERENCE_VALIDATION_FAILED'],
    ['', { nothing: true }, 400, 'PREFERENCE_VALIDATION_FAILED'],
    ['', { format: 'preferences-export/2', preferences: {} }, 400, 'PREFERENCE_VALIDATION_FAILED'],
    ['?mode=overwrite', { preferences: { a: 1 } }, 400, 'PREFERENCE_VALIDATION_FAILED'],
    ['?dry_run=maybe', { preferences: { a: 1 } }, 400, 'PREFERENCE_VALIDATION_FAILED'],
    ['', { preferences: { a: 1, 'billing.plan': 'pro' } }, 403, 'PREFERENCE_KEY_READ_ONLY', /"billing\.plan"/],
    ['', { preferences: { a: 1, big: 'x'.repeat(70_000) } }, 413, 'PREFERENCE_VALUE_TOO_LARGE', /"big"/]
  ]
  for (const [query, body, status, code, message] of cases) {
    const res = await c.request('POST', importUrl(1, query), body)
    t.equal(res.statusCode, status, `${JSON.stringify(body).slice(0, 60)}${query}: ${status}`)
    t.equal(res.json().code, code)
    if (message !== undefined) t.match(res.json().message, message)
  }
  t.equal((await c.request('POST', importUrl(1), 'a=1', { 'content-type': 'application/x-www-form-urlencoded' })).statusCode, 415, 'JSON only')
  t.equal((await c.request('POST', importUrl(1), '{"preferences":')).json().code, 'PREFERENCE_MALFORMED_BODY')
  t.same(await snapshot(test, 1), before, 'rows and revision unchanged after every refusal')

  // unknownKeys: 'reject' and locks, like every write.
  const strict = await build(t, { plugin: { ...plugin, unknownKeys: 'reject' } })
  const five = client(strict.app, token(5))
  const unknown = await five.request('POST', importUrl(5), { preferences: { theme: 'dark', whatever: 1 } })
  t.equal(unknown.json().code, 'PREFERENCE_KEY_UNKNOWN')
  await client(strict.app, adminToken()).request('PUT', '/preference-defaults/g1/by-key/volume/', { value: 5, locked: true })
  const locked = await five.request('POST', importUrl(5), { preferences: { theme: 'dark', volume: 7 } })
  t.equal(locked.statusCode, 403)
  t.equal(locked.json().code, 'PREFERENCE_KEY_LOCKED')
  t.same(await strict.rows(), [], 'nothing written')
  const asAdmin = await client(strict.app, adminToken()).request('POST', importUrl(5), { preferences: { theme: 'dark', volume: 7, 'billing.plan': 'pro' } })
  t.same(asAdmin.json().created, ['billing.plan', 'theme', 'volume'], 'an admin writes past read-only keys and locks')
  // Unchanged read-only keys are no write: the user may import their own export back.
  const own = (await five.request('GET', '/user/5/preference/export/')).json()
  const back = await five.request('POST', importUrl(5, '?mode=replace'), own)
  t.equal(back.statusCode, 200)
  t.same(back.json().unchanged, ['billing.plan', 'theme', 'volume'])
})

t.test('limits: the body (maxImportBytes, its own limit), each value, the per-user quota', async (t) => {
  const test = await build(t, { plugin: { maxImportBytes: 200_000, bodyLimit: 100_000, maxValueBytes: 60_000, maxPreferencesPerUser: 3 } })
  const c = client(test.app, token(1))
  const over = await c.request('POST', importUrl(1), { preferences: { a: 'x'.repeat(50_000), b: 'x'.repeat(50_000), c: 'x'.repeat(50_000), d: 'x'.repeat(60_000) } })
  t.equal(over.statusCode, 413)
  t.same(over.json(), { statusCode: 413, code: 'PREFERENCE_BODY_TOO_LARGE', error: 'Payload Too Large', message: 'The request body is larger than the limit of 200000 bytes' })
  const big = await c.request('POST', importUrl(1), { preferences: { a: 'x'.repeat(50_000), b: 'x'.repeat(50_000), c: 'x'.repeat(50_000) } })
  t.equal(big.statusCode, 200, 'a body above bodyLimit but within maxImportBytes')
  t.same(big.json().created, ['a', 'b', 'c'])
  t.equal((await c.request('POST', '/user/1/preference/', { key: 'k', value: 'x'.repeat(110_000) })).json().code, 'PREFERENCE_BODY_TOO_LARGE',
    'other routes keep bodyLimit')

  const quota = await c.request('POST', importUrl(1), { preferences: { d: 1 } })
  t.equal(quota.statusCode, 409)
  t.equal(quota.json().code, 'PREFERENCE_LIMIT_REACHED')
  t.match(quota.json().message, /"d"/)
  const room = await c.request('POST', importUrl(1, '?mode=replace'), { preferences: { a: 1, d: 1, e: 1 } })
  t.equal(room.statusCode, 200, 'replace frees the room its deletions make')
  t.same(await stored(test), { '1:a': '1', '1:d': '1', '1:e': '1' })
})

t.test('another user\'s export, import or erase: 403, nothing changed; an admin may', async (t) => {
  const test = await build(t)
  const two = client(test.app, token(2))
  await two.create('mine', 1)
  const before = await snapshot(test, 2)
  const one = client(test.app, token(1))
  for (const [method, path, body] of [
    ['GET', '/user/2/preference/export/', undefined],
    ['POST', importUrl(2), { preferences: { x: 1 } }],
    ['POST', importUrl(2, '?dry_run=true'), { preferences: { x: 1 } }],
    ['DELETE', '/user/2/preference/', undefined]
  ] as const) {
    const res = await one.request(method, path, body)
    t.equal(res.statusCode, 403, `${method} ${path}`)
    t.equal(res.json().code, 'PREFERENCE_FORBIDDEN')
  }
  t.same(await snapshot(test, 2), before)
  t.equal((await one.request('DELETE', '/user/2/preference/', undefined, {})).statusCode, 403)
  t.equal((await client(test.app, adminToken()).request('DELETE', '/user/2/preference/')).statusCode, 204)
  t.same((await snapshot(test, 2)).rows, [])
})

t.test('erase: every row of the user goes (preferences and change log), nobody else\'s; the revision keeps counting', async (t) => {
  const test = await build(t, { plugin: { ...plugin, changeLog: { maxRevisions: 100 } } })
  const c = client(test.app, token(1))
  for (const key of ['a', 'b', 'c']) await c.create(key, key)
  await c.request('PUT', '/user/1/preference/by-key/a/', { value: 'again' })
  await client(test.app, token(2)).create('a', 'two')
  const other = await snapshot(test, 2)

  const res = await c.request('DELETE', '/user/me/preference/')
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal(res.headers['preference-revision'], '5')
  const after = await snapshot(test, 1)
  t.same(after.rows, [], 'no preference left')
  t.same(after.changes, [[5, '[]']], 'the erasure is the one revision kept, with no keys in it')
  t.same([after.rev, after.floor], [5, 5])
  const erasedRow = await test.db.selectFrom('preference_change').select(['erased', 'actor_id']).where('user_id', '=', 1).executeTakeFirstOrThrow()
  t.same([Number(erasedRow.erased), Number(erasedRow.actor_id)], [1, 1])
  t.same(await snapshot(test, 2), other, 'user 2 untouched')

  for (const since of [0, 3]) {
    const expired = await c.request('GET', `/user/1/preference/changes/?since=${since}`)
    t.equal(expired.statusCode, 410, `changes since ${since}`)
    t.equal(expired.json().code, 'PREFERENCE_CHANGES_EXPIRED')
  }
  const page = await c.request('GET', '/user/1/preference/changes/?since=4')
  t.same(page.json().results.map((r: { rev: number, changes: unknown[], erased?: boolean }) => [r.rev, r.changes, r.erased]), [[5, [], true]])
  const history = await c.request('GET', '/user/1/preference/by-key/a/history/')
  t.same([history.statusCode, history.json()], [200, { results: [] }])
  t.same((await c.request('GET', '/user/1/preference/')).json().count, 0)
  t.match((await c.request('GET', '/user/1/preference/export/')).json(), { rev: 5, preferences: {} })

  const next = await c.create('a', 'new life')
  t.equal(next.headers['preference-revision'], '6', 'never reused')
  t.same((await c.request('GET', '/user/1/preference/changes/?since=5')).json().results.map((r: { rev: number }) => r.rev), [6])
  const again = await c.request('DELETE', '/user/1/preference')
  t.same([again.statusCode, again.headers['preference-revision']], [204, '7'], 'without the slash too; each erasure counts')
  t.same((await snapshot(test, 1)).changes, [[7, '[]']])
})

t.test('erase by a user who is not an admin leaves read-only and locked keys to admins', async (t) => {
  const test = await build(t, { plugin })
  const admin = client(test.app, adminToken())
  await admin.request('PUT', '/user/5/preference/by-key/billing.plan/', { value: 'pro' })
  const five = client(test.app, token(5))
  await five.create('theme', 'dark')
  const before = await snapshot(test, 5)
  const refused = await five.request('DELETE', '/user/5/preference/')
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'PREFERENCE_KEY_READ_ONLY')
  t.same(await snapshot(test, 5), before, 'nothing erased')
  t.equal((await admin.request('DELETE', '/user/5/preference/')).statusCode, 204)
  t.same((await snapshot(test, 5)).rows, [])
})

t.test('a 1,000-key import is one transaction: one revision, every row', async (t) => {
  const test = await build(t)
  const c = client(test.app, token(1))
  const preferences: Record<string, unknown> = {}
  for (let i = 0; i < 1000; i++) preferences[`key.${String(i).padStart(4, '0')}`] = { i, tags: ['a', 'b'] }
  const res = await c.request('POST', importUrl(1), { preferences })
  t.equal(res.statusCode, 200)
  t.equal(res.json().rev, 1)
  t.equal(res.json().created.length, 1000)
  t.same(res.json().created, Object.keys(preferences), 'sorted')
  const s = await snapshot(test, 1)
  t.equal(s.rows.length, 1000)
  t.same(s.changes.map(([rev]) => rev), [1], 'one revision')
  t.equal(JSON.parse(s.changes[0][1] as string).length, 1000)
  const again = await c.request('POST', importUrl(1, '?mode=replace'), { preferences })
  t.same([again.json().rev, again.json().unchanged.length], [1, 1000], 'the same again changes nothing')
})

t.test('keys and values that an array literal would have to escape go through a bulk import and back unchanged', async (t) => {
  const test = await build(t)
  const c = client(test.app, token(1))
  // PostgreSQL writes an import's keys and values as text arrays: quotes, backslashes, commas,
  // braces, spaces, NULL and non-ASCII must stay what they were.
  const awkward = ['a"b', 'back\\slash', 'com,ma', '{brace}', ' lead and trail ', 'NULL', 'null', 'ключ ✓ 🎉', "it's"]
  const first = Object.fromEntries(awkward.map((key, i) => [key, i % 2 === 0 ? { key, n: i } : `"${key}" \\ {${i}}`]))
  const created = await c.request('POST', importUrl(1), { preferences: first })
  t.equal(created.statusCode, 200)
  t.same(created.json().created, [...awkward].sort((a, b) => a < b ? -1 : 1))
  const rows = (await test.rows()).filter((r) => r.user_id === 1)
  t.same(rows.map((r) => r.key), awkward, 'stored with ids in the document\'s order')
  t.same(rows.map((r) => JSON.parse(r.value)), Object.values(first))

  // The same keys again, half of them with new values: an update of several rows at once.
  const second = Object.fromEntries(awkward.map((key, i) => [key, i % 2 === 0 ? [key, 'again'] : first[key]]))
  const updated = await c.request('POST', importUrl(1), { preferences: second })
  t.same(updated.json().updated, awkward.filter((_, i) => i % 2 === 0).sort((a, b) => a < b ? -1 : 1))
  const after = (await test.rows()).filter((r) => r.user_id === 1)
  t.same(after.map((r) => [r.id, r.key, JSON.parse(r.value)]), rows.map((r, i) => [r.id, r.key, second[awkward[i]]]), 'same ids, new values')
  const exported = (await c.request('GET', '/user/1/preference/export/')).json() as { preferences: Record<string, unknown> }
  t.same(exported.preferences, second)

  const patched = await c.request('PATCH', '/user/1/preference/', Object.fromEntries(awkward.slice(0, 3).map((key) => [key, null])),
    { 'content-type': 'application/merge-patch+json' })
  t.equal(patched.statusCode, 200)
  t.same(patched.json().deleted, awkward.slice(0, 3))
  t.same((await test.rows()).filter((r) => r.user_id === 1).map((r) => r.key), awkward.slice(3), 'the deleted keys, and only they, are gone')
})
