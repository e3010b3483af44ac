import Fastify from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import preferences, { createPreferenceStore, type PreferenceStore } from '../index.js'
import { bearer, freshDatabaseUrl, PREFIX, SECRET, token } from './helper.js'
import { KEYS } from './keys-fixture.js'

async function openStore (t: Test, extra: Record<string, unknown> = {}): Promise<PreferenceStore<typeof KEYS>> {
  const store = await createPreferenceStore({
    database: await freshDatabaseUrl(t),
    keys: KEYS,
    groupsOf: (userId: number) => userId === 5 ? ['g1'] : [],
    ...extra
  })
  t.after(() => store.close())
  return store
}

t.test('get, set, delete, list: typed by the registry, checked like HTTP', async (t) => {
  const store = await openStore(t)
  t.equal(await store.get(1, 'theme'), undefined, 'nothing stored yet')
  const first = await store.set(1, 'theme', 'dark')
  t.equal(first.created, true)
  t.match(first.preference, { user_id: 1, key: 'theme' })
  t.equal((await store.set(1, 'theme', 'light')).created, false)
  const theme: 'light' | 'dark' | undefined = await store.get(1, 'theme')
  t.equal(theme, 'light')
  await store.set(1, 'tour.welcome', true)
  await store.set(1, 'anything', { free: ['form'] })
  t.same(await store.get(1, 'anything'), { free: ['form'] })
  t.same((await store.list(1)).results.map((p) => p.key), ['theme', 'tour.welcome', 'anything'])

  // @ts-expect-error: theme is 'light' | 'dark'
  await t.rejects(store.set(1, 'theme', 'blue'), { code: 'PREFERENCE_VALUE_INVALID', statusCode: 400 })
  // @ts-expect-error: tour.* is a boolean
  await t.rejects(store.set(1, 'tour.x', 'yes'), { code: 'PREFERENCE_VALUE_INVALID' })
  await t.rejects(store.set(1, 'big', 'x'.repeat(70_000)), { code: 'PREFERENCE_VALUE_TOO_LARGE', statusCode: 413 })
  await t.rejects(store.set(1, '', 1), { code: 'PREFERENCE_VALIDATION_FAILED' })
  t.equal(await store.get(1, 'theme'), 'light', 'refused writes changed nothing')

  t.equal(await store.delete(1, 'theme'), true)
  t.equal(await store.delete(1, 'theme'), false)
})

t.test('getPreference gives the whole preference, getDefault a scope\'s default', async (t) => {
  const store = await openStore(t)
  t.equal(await store.getPreference(1, 'theme'), undefined)
  const { preference } = await store.set(1, 'theme', 'dark')
  const found = await store.getPreference(1, 'theme')
  t.same(found, preference, 'id, key, value and both times, as set gave them')
  t.equal(found?.value, 'dark', 'the value as plain data')
  await t.rejects(store.getPreference(1, ''), { code: 'PREFERENCE_VALIDATION_FAILED' })

  t.equal(await store.getDefault('site', 'theme'), undefined)
  await store.setDefault('site', 'theme', 'light', { locked: true })
  t.match(await store.getDefault('site', 'theme'), { scope: 'site', key: 'theme', value: 'light', locked: true })
  t.equal(await store.getDefault('g1', 'theme'), undefined, 'another scope has none')
  await t.rejects(store.getDefault('not a scope', 'theme'), { code: 'PREFERENCE_VALIDATION_FAILED' })

  t.equal(await store.deleteDefault('site', 'theme'), true)
  t.equal(await store.getDefault('site', 'theme'), undefined, 'gone')
  t.equal(await store.deleteDefault('site', 'theme'), false, 'nothing left to delete')
  await t.rejects(store.deleteDefault('not a scope', 'theme'), { code: 'PREFERENCE_VALIDATION_FAILED' })
})

t.test('read-only keys and locks hold for host code unless it names an admin actor', async (t) => {
  const store = await openStore(t)
  await t.rejects(store.set(5, 'billing.plan', 'pro'), { code: 'PREFERENCE_KEY_READ_ONLY', statusCode: 403 })
  t.equal((await store.set(5, 'billing.plan', 'pro', { actor: { id: 999, isAdmin: true } })).created, true)

  await store.setDefault('g1', 'theme', 'dark', { locked: true })
  await t.rejects(store.set(5, 'theme', 'light'), { code: 'PREFERENCE_KEY_LOCKED', message: '"theme" is locked by the g1 scope' })
  await t.rejects(store.mergePatch(5, { theme: 'light' }), { code: 'PREFERENCE_KEY_LOCKED' })
  t.equal((await store.set(6, 'theme', 'light')).created, true, 'user 6 is not in g1')
  t.equal((await store.set(5, 'theme', 'light', { groups: [] })).created, true, 'groups given for the call replace groupsOf')
  t.same((await store.effective(5)).preferences.theme, { value: 'dark', source: 'scope:g1', locked: true })
  await t.rejects(store.setDefault('not a scope', 'theme', 'dark'), { code: 'PREFERENCE_VALIDATION_FAILED' })
  await t.rejects(store.setDefault('site', 'billing.plan', 'pro'), { code: 'PREFERENCE_KEY_READ_ONLY' })
})

t.test('merge patch and the effective view', async (t) => {
  const store = await openStore(t)
  await store.set(1, 'layout', { columns: 3 })
  const outcome = await store.mergePatch(1, { layout: { dense: true }, theme: 'dark', gone: null })
  t.same(outcome.results.map((p) => p.key), ['layout', 'theme'])
  t.equal(outcome.rev, 2, 'the set, then the patch: one revision each')
  t.same(await store.get(1, 'layout'), { columns: 3, dense: true })
  await t.rejects(store.mergePatch(1, { layout: { columns: 0 } }), { code: 'PREFERENCE_VALUE_INVALID' })
  const view = await store.effective(1, { keys: ['layout', 'billing.plan'] })
  t.same(view, {
    rev: 2,
    preferences: {
      'billing.plan': { value: 'free', source: 'registry', locked: false },
      layout: { value: { columns: 3, dense: true }, source: 'user', locked: false }
    }
  })
  t.same((await store.listDefaults('site')), [])
})

t.test('the plugin given a store shares its database and its rules', async (t) => {
  const store = await openStore(t)
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  await app.register(preferences, { prefix: PREFIX, auth: { secret: SECRET }, store })
  await store.set(3, 'theme', 'dark')
  const read = await app.inject({ url: `${PREFIX}/user/3/preference/by-key/theme/`, headers: bearer(token(3)) })
  t.equal(read.json().value, 'dark', 'HTTP reads what the store wrote')
  const refused = await app.inject({
    method: 'PUT', url: `${PREFIX}/user/3/preference/by-key/theme/`, headers: bearer(token(3)), payload: { value: 'blue' }
  })
  t.equal(refused.json().code, 'PREFERENCE_VALUE_INVALID', 'with the store\'s registry')
  await app.close()
  t.equal(await store.get(3, 'theme'), 'dark', 'closing the app leaves the host\'s store open')

  const twice = Fastify({ logger: false })
  t.after(() => twice.close())
  await t.rejects(async () => { await twice.register(preferences, { auth: { secret: SECRET }, store, keys: KEYS, database: ':memory:' }) },
    { code: 'PREFERENCE_INVALID_OPTION', message: /store carries its own database, keys/ })
})
