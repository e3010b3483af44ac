import t from 'tap'
import { adminToken, build, client, token } from './helper.js'

const MERGE = { 'content-type': 'application/merge-patch+json' }

interface Revision { rev: number, at: string, actor: { id: number, admin: boolean } | null, changes: Array<Record<string, unknown>>, erased?: true }

t.test('every write answers Preference-Revision; each committed change adds one; a merge patch is one revision', async (t) => {
  const test = await build(t)
  const c = client(test.app, token(1))
  const created = await c.create('a', 1)
  t.equal(created.headers['preference-revision'], '1')
  const id = created.json().id as number
  t.equal((await c.request('PATCH', `/user/1/preference/${id}/`, { value: 2 })).headers['preference-revision'], '2')
  t.equal((await c.request('PUT', `/user/1/preference/${id}/`, { key: 'a', value: 3 })).headers['preference-revision'], '3')
  t.equal((await c.request('PUT', '/user/1/preference/by-key/b/', { value: true })).headers['preference-revision'], '4')
  const patched = await c.request('PATCH', '/user/1/preference/', JSON.stringify({ a: 4, b: null, c: { x: 1 } }), MERGE)
  t.equal(patched.headers['preference-revision'], '5', 'three changes, one revision')
  t.equal((await c.request('DELETE', '/user/1/preference/by-key/c/')).headers['preference-revision'], '6')
  const noop = await c.request('PATCH', '/user/1/preference/', JSON.stringify({ nothing: null }), MERGE)
  t.equal(noop.headers['preference-revision'], '6', 'a patch that changed nothing makes no revision')
  t.equal((await c.create('a', 1)).statusCode, 409)
  t.equal((await client(test.app, token(2)).create('a', 1)).headers['preference-revision'], '1', 'revisions are per user')

  const page = (await c.request('GET', '/user/1/preference/changes/?since=0')).json() as { rev: number, results: Revision[], next: null }
  t.equal(page.rev, 6)
  t.same(page.results.map((r) => r.rev), [1, 2, 3, 4, 5, 6], 'the refused create logged nothing')
  t.same(page.results[0], { rev: 1, at: created.json().created_at, actor: { id: 1, admin: false }, changes: [{ op: 'set', key: 'a', id, value: 1 }] })
  t.same(page.results[4].changes, [
    { op: 'delete', key: 'b', id: page.results[3].changes[0].id },
    { op: 'set', key: 'a', id, value: 4 },
    { op: 'set', key: 'c', id: page.results[4].changes[2].id, value: { x: 1 } }
  ], 'a merge patch: deletes, then sets with the merged values')
  t.equal(page.next, null)
})

t.test('the log is written with the change, in the same transaction: a rename is a delete and a set, the actor is kept', async (t) => {
  const test = await build(t)
  const admin = client(test.app, adminToken(9))
  const id = (await admin.create('old', 'v', 1)).json().id as number
  await admin.request('PATCH', `/user/1/preference/${id}/`, { key: 'new' })
  const rows = await test.db.selectFrom('preference_change').selectAll().orderBy('rev').execute()
  t.same(rows.map((r) => [Number(r.rev), Number(r.actor_id), Number(r.actor_admin), JSON.parse(r.changes)]), [
    [1, 9, 1, [{ op: 'set', key: 'old', id, value: 'v' }]],
    [2, 9, 1, [{ op: 'delete', key: 'old', id }, { op: 'set', key: 'new', id, value: 'v' }]]
  ])
  const revision = await test.db.selectFrom('user_revision').selectAll().execute()
  t.same(revision.map((r) => [Number(r.user_id), Number(r.rev)]), [[1, 2]])
})

t.test('changes: paging with next, 410 for a revision no longer kept or beyond the current one', async (t) => {
  const test = await build(t, { plugin: { changeLog: { maxRevisions: 5 } } })
  const c = client(test.app, token(1))
  for (let i = 0; i < 8; i++) await c.request('PUT', '/user/1/preference/by-key/k/', { value: i })
  const kept = await test.db.selectFrom('preference_change').select('rev').orderBy('rev').execute()
  t.same(kept.map((r) => Number(r.rev)), [4, 5, 6, 7, 8], 'pruned to the last 5')

  const first = await c.request('GET', '/user/1/preference/changes/?since=3&limit=2')
  t.equal(first.statusCode, 200)
  const page = first.json() as { rev: number, results: Revision[], next: string }
  t.same(page.results.map((r) => r.rev), [4, 5])
  t.match(page.next, /^http:\/\/localhost(:\d+)?\/api\/v2\/user\/1\/preference\/changes\/\?since=5&limit=2$/)
  const second = (await c.request('GET', '/user/1/preference/changes/?since=5&limit=2')).json() as { results: Revision[], next: string }
  t.same(second.results.map((r) => r.rev), [6, 7])
  const last = (await c.request('GET', '/user/1/preference/changes/?since=7&limit=2')).json() as { results: Revision[], next: null }
  t.same(last.results.map((r) => r.rev), [8])
  t.equal(last.next, null)
  t.same((await c.request('GET', '/user/1/preference/changes/?since=8')).json().results, [], 'up to date: nothing new')

  for (const since of [2, 9]) {
    const res = await c.request('GET', `/user/1/preference/changes/?since=${since}`)
    t.equal(res.statusCode, 410, `since=${since}`)
    t.equal(res.json().code, 'PREFERENCE_CHANGES_EXPIRED')
  }
  t.equal((await c.request('GET', '/user/1/preference/changes/?limit=0')).statusCode, 400)
  t.equal((await client(test.app, token(2)).request('GET', '/user/1/preference/changes/')).statusCode, 403)
})

t.test('history of a key: its kept revisions, newest first', async (t) => {
  const test = await build(t)
  const c = client(test.app, token(1))
  await c.request('PUT', '/user/1/preference/by-key/theme/', { value: 'light' })
  await c.request('PUT', '/user/1/preference/by-key/other/', { value: 1 })
  await c.request('PUT', '/user/1/preference/by-key/theme/', { value: 'dark' })
  await c.request('DELETE', '/user/1/preference/by-key/theme/')
  await c.request('PUT', '/user/1/preference/by-key/theme%2Fx/', { value: 'not theme' })
  const res = await c.request('GET', '/user/1/preference/by-key/theme/history/')
  t.equal(res.statusCode, 200)
  t.same(res.json().results.map((e: { rev: number, op: string, value?: unknown }) => [e.rev, e.op, e.value]),
    [[4, 'delete', undefined], [3, 'set', 'dark'], [1, 'set', 'light']])
  t.same((await c.request('GET', '/user/1/preference/by-key/never/history/')).json(), { results: [] })
})
