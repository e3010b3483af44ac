import t from 'tap'
import { createPreferenceStore } from '../index.js'
import { STORE_CORE } from '../store/preference-store.js'
import { freshDatabaseUrl } from './helper.js'
import { KEYS } from './keys-fixture.js'

// exportPreferences, importPreferences and erasePreferences from host code: the same rules,
// revisions and events as over HTTP.

t.test('the store: export plain values, import (typed, dry run, replace), erase for an account deletion', async (t) => {
  const store = await createPreferenceStore({ database: await freshDatabaseUrl(t), keys: KEYS })
  t.after(() => store.close())
  await store.set(1, 'theme', 'dark')
  await store.set(1, 'free', { n: 1.5, list: [true] })

  const doc = await store.exportPreferences(1)
  t.match(doc, { format: 'preferences-export/1', user_id: 1, rev: 2 })
  t.same(doc.preferences, { theme: 'dark', free: { n: 1.5, list: [true] } }, 'plain values')

  const dry = await store.importPreferences(2, doc, { dryRun: true })
  t.same(dry, { rev: 0, dry_run: true, created: ['free', 'theme'], updated: [], deleted: [], unchanged: [] })
  t.same((await store.list(2)).results, [], 'a dry run wrote nothing')
  const real = await store.importPreferences(2, doc)
  t.same(real, { ...dry, rev: 1, dry_run: false })
  t.same((await store.exportPreferences(2)).preferences, doc.preferences)

  const replaced = await store.importPreferences(2, { preferences: { theme: 'light', 'tour.a': true } }, { mode: 'replace' })
  t.same(replaced, { rev: 2, dry_run: false, created: ['tour.a'], updated: ['theme'], deleted: ['free'], unchanged: [] })
  // @ts-expect-error: theme is 'light' | 'dark'
  await t.rejects(store.importPreferences(2, { preferences: { theme: 'blue' } }), { code: 'PREFERENCE_VALUE_INVALID', statusCode: 400 })
  await t.rejects(store.importPreferences(2, { preferences: { 'billing.plan': 'pro' } }), { code: 'PREFERENCE_KEY_READ_ONLY' })
  // @ts-expect-error: mode is merge or replace
  await t.rejects(store.importPreferences(2, { preferences: {} }, { mode: 'wipe' }), { code: 'PREFERENCE_VALIDATION_FAILED' })
  await t.rejects(store.importPreferences(2, null as never), { code: 'PREFERENCE_VALIDATION_FAILED' })
  t.equal((await store.exportPreferences(2)).rev, 2, 'refused imports made no revision')

  const admin = { actor: { id: 0, isAdmin: true } }
  await store.importPreferences(2, { preferences: { 'billing.plan': 'pro' } }, admin)
  await t.rejects(store.erasePreferences(2), { code: 'PREFERENCE_KEY_READ_ONLY' }, 'host code is held to a user\'s rules unless it names an admin')

  const heard: number[] = []
  const unsubscribe = store[STORE_CORE].bus.subscribe(2, (rev) => { heard.push(rev) })
  t.after(unsubscribe)
  const erased = await store.erasePreferences(2, admin)
  t.same(erased, { rev: 4, deleted: 3 })
  t.same(heard, [4], 'the streams are told')
  const after = await store.exportPreferences(2)
  t.same([after.rev, Object.keys(after.preferences)], [4, []])
  const log = await store.db.selectFrom('preference_change').select(['user_id', 'rev', 'erased']).orderBy('user_id').orderBy('rev').execute()
  t.same(log.map((r) => [Number(r.user_id), Number(r.rev), Number(r.erased)]), [[1, 1, 0], [1, 2, 0], [2, 4, 1]], 'user 1\'s log kept; user 2\'s is the erasure')
  t.same((await store.list(1)).count, 2, 'user 1 untouched')
})
