import t from 'tap'
import type { LayerRow } from '../db/scope-default-repository.js'
import type { EffectiveView } from '../schemas/effective-view.js'
import { EffectiveViewMemo } from '../store/effective-memo.js'

const row = (key: string, value: string, scope: string | null = null, locked = 0): LayerRow => ({ scope, key, value, locked })
const view = (rev: number): EffectiveView => ({ rev, preferences: {} })

t.test('a view comes back only for the same user, scopes and rows', async (t) => {
  const memo = new EffectiveViewMemo(10)
  const rows = [row('a', '1'), row('b', '"x"', 'site', 1)]
  const v = view(1)
  memo.remember(7, ['site'], rows, v)
  t.equal(memo.find(7, ['site'], [row('a', '1'), row('b', '"x"', 'site', 1)]), v, 'equal rows read again')
  t.equal(memo.find(8, ['site'], rows), undefined, 'another user')
  t.equal(memo.find(7, ['site', 'g1'], rows), undefined, 'other scopes')
  t.equal(memo.find(7, ['site'], [row('a', '2'), rows[1]]), undefined, 'a value changed')
  t.equal(memo.find(7, ['site'], [rows[0], row('b', '"x"', 'site', 0)]), undefined, 'a lock lifted')
  t.equal(memo.find(7, ['site'], [rows[0], row('b', '"x"', 'g1', 1)]), undefined, 'another scope')
  t.equal(memo.find(7, ['site'], [row('c', '1'), rows[1]]), undefined, 'another key')
  t.equal(memo.find(7, ['site'], rows.slice(0, 1)), undefined, 'a row fewer')
  t.equal(memo.find(7, ['site'], [...rows, row('#rev', '2', '#rev')]), undefined, 'a row more')
})

t.test('holds at most its capacity, dropping the least recently read user', async (t) => {
  const memo = new EffectiveViewMemo(2)
  const rows = [row('a', '1')]
  memo.remember(1, [], rows, view(1))
  memo.remember(2, [], rows, view(2))
  t.ok(memo.find(1, [], rows), 'user 1 read again: now the most recent')
  memo.remember(3, [], rows, view(3))
  t.equal(memo.size, 2)
  t.equal(memo.find(2, [], rows), undefined, 'user 2 was the least recently read')
  t.equal(memo.find(1, [], rows)?.rev, 1)
  t.equal(memo.find(3, [], rows)?.rev, 3)
  memo.remember(3, [], rows, view(4))
  t.equal(memo.size, 2, 'a user remembered again replaces their entry')
  t.equal(memo.find(3, [], rows)?.rev, 4)
})
