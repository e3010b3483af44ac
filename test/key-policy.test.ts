import t from 'tap'
import { Type } from '@sinclair/typebox'
import { openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { createPreference, deletePreferenceIfUnchanged, updatePreferenceIfUnchanged } from '../db/preference-repository.js'
import type { KeyPolicy } from '../db/types.js'
import { compileRegistry, writePolicy } from '../store/key-registry.js'
import { BACKEND, freshDatabaseUrl } from './helper.js'

// PostgreSQL writes a preference by id in one statement, checking the registry on the key it
// finds through a policy (the registry's verdict per key). Here the statement alone: it must
// write where the registry would, and write nothing where it would not.
t.test('the one-statement write applies the registry\'s policy to the key it finds', { skip: BACKEND !== 'postgres' && 'PostgreSQL only' }, async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(async () => db.destroy())
  await migrateToLatest(db)
  const registry = compileRegistry({
    'tour.*': { schema: Type.Boolean() },
    'tour.special.*': { schema: Type.String() },
    'tour.x': { schema: Type.Number() },
    ['__proto__']: { schema: Type.Number() },
    'admin.*': { schema: Type.Number(), writable: 'admin' }
  } as never)
  const log = { actor: null, maxRevisions: 100 }
  const ids: Record<string, number> = Object.create(null)
  for (const key of ['tour.special.a', 'tour.x', 'tour.y', 'other', '__proto__', 'admin.a', 'tour.']) {
    ids[key] = (await createPreference(db, 1, { key, valueJson: '0' }, 1000, log)).result.id
  }
  const policyFor = (value: unknown, unknown = true, admin = false): KeyPolicy => registry.policy((d) =>
    (admin || d.writable !== 'admin') && d.validate(value) === true, unknown) as KeyPolicy
  const writes = async (key: string, policy: KeyPolicy) =>
    (await updatePreferenceIfUnchanged(db, 1, { id: ids[key] }, { valueJson: '1' }, log, undefined, [], policy)) !== undefined

  t.equal(await writes('tour.special.a', policyFor('s')), true, 'the longest pattern (tour.special.*) accepts a string')
  t.equal(await writes('tour.special.a', policyFor(true)), false, '... and refuses a boolean the shorter one (tour.*) would take')
  t.equal(await writes('tour.x', policyFor(5)), true, 'an exact key over the pattern')
  t.equal(await writes('tour.x', policyFor(true)), false)
  t.equal(await writes('tour.y', policyFor(true)), true, 'the pattern')
  t.equal(await writes('tour.y', policyFor(5)), false)
  t.equal(await writes('tour.', policyFor(5)), true, 'the bare prefix is not under its pattern: an unknown key')
  t.equal(await writes('other', policyFor(5)), true, 'an unknown key, allowed')
  t.equal(await writes('other', policyFor(5, false)), false, 'an unknown key, refused')
  t.equal(await writes('__proto__', policyFor(5)), true, 'a key named __proto__ is a key like any other')
  t.equal(await writes('__proto__', policyFor('s')), false)
  t.equal(await writes('admin.a', policyFor(5)), false, 'a read-only key, for a non-admin')
  t.equal(await writes('admin.a', policyFor(5, true, true)), true, '... and for an admin')

  const deletes = async (key: string, policy: KeyPolicy) =>
    (await deletePreferenceIfUnchanged(db, 1, { id: ids[key] }, log, undefined, [], policy)) !== undefined
  const deletePolicy = (admin: boolean) => registry.policy((d) => admin || d.writable !== 'admin', true) as KeyPolicy
  t.equal(await deletes('admin.a', deletePolicy(false)), false, 'a non-admin does not delete a read-only key')
  t.equal(await deletes('other', deletePolicy(false)), true)
  t.equal(await deletes('admin.a', deletePolicy(true)), true, 'an admin does')
  const left = await db.selectFrom('user_preference').select(['key', 'value']).orderBy('key').execute()
  t.same(left, [
    { key: '__proto__', value: '1' }, { key: 'tour.', value: '1' }, { key: 'tour.special.a', value: '1' },
    { key: 'tour.x', value: '1' }, { key: 'tour.y', value: '1' }
  ], 'the database holds exactly the writes the policy let through')
})

t.test('a registry past 64 definitions gives no policy (writes read the key instead)', async (t) => {
  const keys = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, { schema: Type.Number() }]))
  t.equal(compileRegistry(keys).policy(() => true, true), undefined)
  t.same(compileRegistry({ a: { schema: Type.Number() } }).policy((d) => d.validate(1) === true, false),
    { exact: { a: true }, prefixes: [], unknown: false })
})

t.test('writePolicy: the verdicts for a write by an admin or not, of a value or none', async (t) => {
  const registry = compileRegistry({
    theme: { schema: Type.Union([Type.Literal('light'), Type.Literal('dark')]) },
    'billing.*': { schema: Type.String(), writable: 'admin' }
  }, 'reject')
  t.same(writePolicy(registry, false, { value: 'dark' }), { exact: { theme: true }, prefixes: [['billing.', false]], unknown: false },
    'a user\'s valid value: not a read-only key, nor an unknown one under reject')
  t.same(writePolicy(registry, true, { value: 'blue' }), { exact: { theme: false }, prefixes: [['billing.', true]], unknown: false },
    'an admin\'s value the theme refuses')
  t.same(writePolicy(registry, false, undefined), { exact: { theme: true }, prefixes: [['billing.', false]], unknown: true },
    'a delete: any key that is not read-only')
  t.same(writePolicy(compileRegistry({}), false, { value: 1 }), { exact: {}, prefixes: [], unknown: true })
})
