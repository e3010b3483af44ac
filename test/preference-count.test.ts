import { type Kysely, sql } from 'kysely'
import { test } from 'tap'
import { openDatabase } from '../db/connect.js'
import { createMigrator } from '../db/migrate.js'
import type { Database } from '../db/types.js'
import { adminToken, BACKEND, bearer, build, freshDatabaseUrl, PREFIX, token } from './helper.js'

// Each user's revision row keeps how many preferences the user holds: PostgreSQL's
// single-statement create checks the limit on it. Every write path must keep it exact.

const counts = async (db: Kysely<Database>) => {
  const kept = await db.selectFrom('user_revision').select(['user_id', 'preference_count']).orderBy('user_id').execute()
  const real = await db.selectFrom('user_preference').select(['user_id', (eb) => eb.fn.countAll<number | string>().as('n')])
    .groupBy('user_id').orderBy('user_id').execute()
  return {
    kept: Object.fromEntries(kept.filter((r) => Number(r.preference_count) !== 0).map((r) => [Number(r.user_id), Number(r.preference_count)])),
    real: Object.fromEntries(real.map((r) => [Number(r.user_id), Number(r.n)]))
  }
}

test('every write path keeps the preference count exact', async (t) => {
  const { app, db } = await build(t, { plugin: { maxPreferencesPerUser: 5 } })
  const auth = bearer(token(1))
  const url = `${PREFIX}/user/1/preference/`
  const post = async (key: string) => app.inject({ method: 'POST', url, headers: auth, payload: { key, value: 1 } })

  for (const key of ['a', 'b', 'c']) t.equal((await post(key)).statusCode, 201, `create ${key}`)
  t.equal((await post('a')).statusCode, 409, 'a duplicate key')
  t.equal((await app.inject({ method: 'PUT', url: `${url}by-key/d/`, headers: auth, payload: { value: 2 } })).statusCode, 201, 'PUT creates d')
  t.equal((await app.inject({ method: 'PUT', url: `${url}by-key/d/`, headers: auth, payload: { value: 3 } })).statusCode, 200, 'PUT replaces d')
  const rows = await app.inject({ method: 'GET', url, headers: auth })
  const ids = Object.fromEntries(rows.json().results.map((r: { key: string, id: number }) => [r.key, r.id]))
  t.equal((await app.inject({ method: 'PATCH', url: `${url}${ids.a}/`, headers: auth, payload: { key: 'a2' } })).statusCode, 200, 'rename')
  t.equal((await app.inject({ method: 'DELETE', url: `${url}${ids.b}/`, headers: auth })).statusCode, 204, 'delete by id')
  t.equal((await app.inject({ method: 'DELETE', url: `${url}by-key/c/`, headers: auth })).statusCode, 204, 'delete by key')
  t.equal((await app.inject({ method: 'DELETE', url: `${url}by-key/c/`, headers: auth })).statusCode, 404, 'delete again')
  const patch = await app.inject({
    method: 'PATCH', url, headers: { ...auth, 'content-type': 'application/merge-patch+json' }, payload: { d: null, e: 1, f: 2, g: 3 }
  })
  t.equal(patch.statusCode, 200, 'a merge patch deletes one and creates three')
  t.equal((await post('h')).statusCode, 201, 'the fifth')
  t.equal((await post('i')).statusCode, 409, 'the sixth is over the limit')
  t.equal((await app.inject({ method: 'POST', url: `${PREFIX}/user/2/preference/`, headers: bearer(adminToken()), payload: { key: 'x', value: 1 } })).statusCode, 201)

  const auth3 = bearer(token(3))
  const url3 = `${PREFIX}/user/3/preference/`
  const imported = async (mode: string, preferences: Record<string, unknown>) =>
    (await app.inject({ method: 'POST', url: `${url3}import/?mode=${mode}`, headers: auth3, payload: { preferences } })).statusCode
  t.equal(await imported('merge', { a: 1, b: 2, c: 3 }), 200, 'an import creates three')
  t.equal(await imported('replace', { a: 1, d: 4 }), 200, 'a replace deletes two and creates one')
  t.same((await counts(db)).kept[3], 2)
  t.equal((await app.inject({ method: 'DELETE', url: url3, headers: auth3 })).statusCode, 204, 'erase')

  const { kept, real } = await counts(db)
  t.same(real, { 1: 5, 2: 1 }, 'what is stored')
  t.same(kept, real, 'the kept counts match')
})

test('rows written behind the plugin\'s back are counted when their user first writes', async (t) => {
  const { app, db } = await build(t, { plugin: { maxPreferencesPerUser: 4 } })
  const now = new Date().toISOString()
  for (const key of ['p', 'q', 'r']) {
    await db.insertInto('user_preference').values({ user_id: 7, key, value: '1', created_at: now, last_updated_at: now }).execute()
  }
  const url = `${PREFIX}/user/7/preference/`
  const auth = bearer(token(7))
  t.equal((await app.inject({ method: 'POST', url, headers: auth, payload: { key: 's', value: 1 } })).statusCode, 201, 'the fourth')
  const over = await app.inject({ method: 'POST', url, headers: auth, payload: { key: 't', value: 1 } })
  t.equal(over.statusCode, 409, 'the fifth is over the limit')
  t.equal(over.json().code, 'PREFERENCE_LIMIT_REACHED')

  // A user with rows but no revision row yet: a by-id write takes the locking path and works.
  await db.insertInto('user_preference').values({ user_id: 8, key: 'z', value: '1', created_at: now, last_updated_at: now }).execute()
  const [{ id }] = await db.selectFrom('user_preference').select('id').where('user_id', '=', 8).execute()
  const patched = await app.inject({ method: 'PATCH', url: `${PREFIX}/user/8/preference/${id}/`, headers: bearer(token(8)), payload: { value: 2 } })
  t.equal(patched.statusCode, 200)
  t.equal(patched.headers['preference-revision'], '1')
  const { kept, real } = await counts(db)
  t.same(kept, real, 'the kept counts match')
})

test('the migration counts what every user already holds', async (t) => {
  const { db } = openDatabase(await freshDatabaseUrl(t))
  t.after(async () => db.destroy())
  // On PostgreSQL the migrator is told the test's own schema (see db/migrate.ts).
  const schema = BACKEND === 'postgres'
    ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0].schema
    : undefined
  const migrator = createMigrator(db, schema)
  t.equal((await migrator.migrateTo('2026-12-02-02-create-preference-revision')).error, undefined)
  const now = new Date().toISOString()
  for (const [userId, key] of [[1, 'a'], [1, 'b'], [2, 'a']] as const) {
    await db.insertInto('user_preference').values({ user_id: userId, key, value: '1', created_at: now, last_updated_at: now }).execute()
  }
  // User 1 already has a revision row, user 2 none.
  await db.insertInto('user_revision').values({ user_id: 1, rev: 4, floor: 0 } as never).execute()
  t.equal((await migrator.migrateToLatest()).error, undefined)
  const rows = await db.selectFrom('user_revision').select(['user_id', 'rev', 'preference_count']).orderBy('user_id').execute()
  t.same(rows.map((r) => [Number(r.user_id), Number(r.rev), Number(r.preference_count)]), [[1, 4, 2], [2, 0, 1]])
})
