import t from 'tap'
import { adminToken, BACKEND, build, client, token } from './helper.js'

// More races (test/concurrent-creates-and-renames.test.ts has concurrent creates of one key, the limit under
// concurrent creates of one caller, and concurrent renames onto one key). Each runs on the
// suite's backend: on PostgreSQL the requests really are concurrent (a pool of 10).

const ROUNDS = 15

t.test(`create versus delete of the same key (${ROUNDS} rounds, ${BACKEND})`, async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const outcomes = { recreated: 0, refused: 0 }
  for (let round = 0; round < ROUNDS; round++) {
    const key = `k${round}`
    const first = await c.create(key, 'old')
    t.equal(first.statusCode, 201)
    const oldId = first.json().id
    // One delete of the existing preference and three creates of its key, all at once; the
    // delete starts first in some rounds, after the creates are under way in others.
    const deleteAfter = async () => {
      const delay = [0, 1, 3, 8, 25][round % 5]
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
      return c.request('DELETE', `/user/1/preference/${oldId}/`)
    }
    const [deleted, ...creates] = await Promise.all([
      deleteAfter(),
      c.create(key, 'new-a'),
      c.create(key, 'new-b'),
      c.create(key, 'new-c')
    ])
    t.equal(deleted.statusCode, 204, `round ${round}: the delete succeeds`)
    const won = creates.filter((r) => r.statusCode === 201)
    t.ok(creates.every((r) => r.statusCode === 201 || (r.statusCode === 409 && r.json().code === 'PREFERENCE_KEY_EXISTS')),
      `round ${round}: each create is a 201 or a 409 (${creates.map((r) => r.statusCode)})`)
    t.ok(won.length <= 1, `round ${round}: at most one create wins`)
    const stored = (await rows()).filter((r) => r.key === key)
    if (won.length === 1) {
      outcomes.recreated++
      const winner = won[0].json()
      t.not(winner.id, oldId, `round ${round}: a new id`)
      t.same(stored.map((r) => [r.id, r.value]), [[winner.id, JSON.stringify(winner.value)]],
        `round ${round}: exactly the winner is stored`)
    } else {
      outcomes.refused++
      t.same(stored, [], `round ${round}: every create came before the delete, which left nothing`)
    }
  }
  t.comment(`create/delete: ${outcomes.recreated} rounds recreated, ${outcomes.refused} rounds all-409`)
  t.equal(outcomes.recreated + outcomes.refused, ROUNDS)
  t.ok(outcomes.recreated > 0 && outcomes.refused > 0, 'both orders happened')
})

t.test('concurrent PATCHes of one preference: the final value is one of the writes, and the last answered', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const id = (await c.create('shared', 'initial')).json().id
  for (let round = 0; round < 5; round++) {
    const values = Array.from({ length: 20 }, (_, i) => ({ round, writer: i, payload: 'x'.repeat(i * 10) }))
    const responses = await Promise.all(values.map((value) => c.request('PATCH', `/user/1/preference/${id}/`, { value })))
    t.same(responses.map((r) => r.statusCode), Array(20).fill(200), `round ${round}: every PATCH is a 200`)
    responses.forEach((r, i) => t.same(r.json().value, values[i], `round ${round}: writer ${i} is answered its own value`))
    const [row] = await rows()
    const final = JSON.parse(row.value)
    t.ok(values.some((v) => JSON.stringify(v) === row.value), `round ${round}: the stored value is one of the writes (writer ${final.writer})`)
    t.equal(row.key, 'shared')
    const got = await c.request('GET', `/user/1/preference/${id}/`)
    t.same(got.json().value, final, `round ${round}: GET agrees with the database`)
    // The whole row is one write's answer: its value with that write's timestamp. (Not
    // necessarily the latest timestamp: the time is taken before the UPDATE, which may
    // commit after a later-stamped one.)
    const answer = responses[final.writer].json()
    t.same({ ...row, value: final }, { ...answer, created_at: row.created_at, key: 'shared', user_id: 1, id },
      `round ${round}: the row is exactly writer ${final.writer}'s answer`)
  }
})

t.test('concurrent PUTs of one preference: key and value come from the same write', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const id = (await c.create('p', 0)).json().id
  for (let round = 0; round < 5; round++) {
    const writes = Array.from({ length: 16 }, (_, i) => ({ key: `p-${round}-${i}`, value: { i, round } }))
    const responses = await Promise.all(writes.map((w) => c.request('PUT', `/user/1/preference/${id}/`, w)))
    t.same(responses.map((r) => r.statusCode), Array(16).fill(200), `round ${round}: every PUT is a 200`)
    const rowsNow = await rows()
    t.equal(rowsNow.length, 1)
    const { key, value } = rowsNow[0]
    const i = Number(key.split('-')[2])
    t.same(JSON.parse(value), writes[i].value, `round ${round}: the stored key ${key} has its own write's value, not another's`)
  }
})

t.test('concurrent PATCHes of key and of value: each column holds one of its writes', async (t) => {
  const { app, rows } = await build(t)
  const c = client(app, token(1))
  const id = (await c.create('start', 'v0')).json().id
  const keys = Array.from({ length: 8 }, (_, i) => `renamed-${i}`)
  const values = Array.from({ length: 8 }, (_, i) => `v${i + 1}`)
  const responses = await Promise.all([
    ...keys.map((key) => c.request('PATCH', `/user/1/preference/${id}/`, { key })),
    ...values.map((value) => c.request('PATCH', `/user/1/preference/${id}/`, { value }))
  ])
  t.same(responses.map((r) => r.statusCode), Array(16).fill(200))
  const [row] = await rows()
  t.ok(keys.includes(row.key), `key ${row.key} is one of the renames`)
  t.ok(values.includes(JSON.parse(row.value)), `value ${row.value} is one of the values`)
})

t.test('per-user limit under concurrent creates and deletes, for two users and an admin', async (t) => {
  const limit = 5
  const { app, rows } = await build(t, { plugin: { maxPreferencesPerUser: limit } })
  const one = client(app, token(1))
  const admin = client(app, adminToken())
  const two = client(app, token(2))
  const existing: number[] = []
  for (let i = 0; i < limit; i++) existing.push((await one.create(`pre${i}`, i)).json().id)

  for (let round = 0; round < 4; round++) {
    const before = (await rows()).filter((r) => r.user_id === 1).length
    const ownIds = (await rows()).filter((r) => r.user_id === 1).map((r) => r.id)
    const requests = [
      // user 1 and an admin acting for user 1 share one budget...
      ...Array.from({ length: 12 }, (_, i) => one.create(`r${round}-own-${i}`, i)),
      ...Array.from({ length: 12 }, (_, i) => admin.create(`r${round}-admin-${i}`, i, 1)),
      // ...while two of user 1's preferences are deleted (each twice) at the same time...
      ...ownIds.slice(0, 2).flatMap((id) => [one.request('DELETE', `/user/1/preference/${id}/`), admin.request('DELETE', `/user/1/preference/${id}/`)]),
      // ...and user 2 fills a budget of its own.
      ...Array.from({ length: 8 }, (_, i) => two.create(`r${round}-two-${i}`, i))
    ]
    const responses = await Promise.all(requests)
    const creates1 = responses.slice(0, 24)
    const deletes = responses.slice(24, 28)
    const creates2 = responses.slice(28)
    const created1 = creates1.filter((r) => r.statusCode === 201).length
    const deleted = deletes.filter((r) => r.statusCode === 204).length
    t.equal(deleted, 2, `round ${round}: each preference is deleted once (the second delete is a 404)`)
    t.ok(deletes.every((r) => r.statusCode === 204 || r.statusCode === 404))
    t.ok(creates1.every((r) => r.statusCode === 201 || (r.statusCode === 409 && r.json().code === 'PREFERENCE_LIMIT_REACHED')),
      `round ${round}: user 1's creates are 201 or 409 LIMIT_REACHED`)
    const after = (await rows()).filter((r) => r.user_id === 1).length
    t.equal(after, before - deleted + created1, `round ${round}: every 201 and 204 is in the count (${before} - ${deleted} + ${created1})`)
    t.ok(after <= limit, `round ${round}: user 1 holds ${after} <= ${limit}`)
    t.ok(created1 <= deleted + (limit - before), `round ${round}: no more creates than free places`)
    const twoCount = (await rows()).filter((r) => r.user_id === 2).length
    t.equal(twoCount, limit, `round ${round}: user 2 holds exactly its limit`)
    if (round === 0) t.equal(creates2.filter((r) => r.statusCode === 201).length, limit, 'user 2 got its own budget')
  }
})
