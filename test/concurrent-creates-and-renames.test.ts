import t from 'tap'
import { build, client, token } from './helper.js'

t.test('20 concurrent creates of one key: exactly one 201, the rest 409', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => c.create('same', i)))
  const statuses = responses.map((r) => r.statusCode).sort()
  t.same(statuses, [201, ...Array(19).fill(409)])
  t.ok(responses.filter((r) => r.statusCode === 409).every((r) => r.json().code === 'PREFERENCE_KEY_EXISTS'))
  const stored = await rows()
  t.equal(stored.length, 1)
  const winner = responses.find((r) => r.statusCode === 201)
  t.equal(stored[0].value, JSON.stringify(winner?.json().value))
})

t.test('concurrent creates never overshoot the per-user limit', async (t) => {
  const { app, rows } = await build(t, { plugin: { maxPreferencesPerUser: 5 } })
  const c = client(app, token(1))
  const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => c.create(`k${i}`, i)))
  const created = responses.filter((r) => r.statusCode === 201).length
  const limited = responses.filter((r) => r.statusCode === 409 && r.json().code === 'PREFERENCE_LIMIT_REACHED').length
  t.equal(created, 5)
  t.equal(limited, 25)
  t.equal((await rows()).length, 5)
})

t.test('concurrent renames onto one key: one wins, the others 409, keys stay unique', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const ids: number[] = []
  for (let i = 0; i < 10; i++) ids.push((await c.create(`k${i}`, i)).json().id)
  const responses = await Promise.all(ids.map((id) => c.request('PATCH', `/user/1/preference/${id}/`, { key: 'target' })))
  t.same(responses.map((r) => r.statusCode).sort(), [200, ...Array(9).fill(409)])
  const keys = (await rows()).map((r) => r.key)
  t.equal(keys.filter((k) => k === 'target').length, 1)
  t.equal(new Set(keys).size, keys.length)
})
