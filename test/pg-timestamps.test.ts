import { sql } from 'kysely'
import t from 'tap'
import { openDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { timestamptzToIso } from '../db/direct/pg-timestamps.js'
import { findPreference, insertPreference } from '../db/preference-repository.js'
import { BACKEND, freshDatabaseUrl } from './helper.js'

t.test('timestamptz text in UTC becomes the ISO string Date#toISOString writes', async (t) => {
  const cases: Array<[string, string]> = [
    ['2026-11-28 16:45:00+00', '2026-11-28T16:45:00.000Z'],
    ['2026-11-28 16:45:00.3+00', '2026-11-28T16:45:00.300Z'],
    ['2026-11-28 16:45:00.35+00', '2026-11-28T16:45:00.350Z'],
    ['2026-11-28 16:45:00.357+00', '2026-11-28T16:45:00.357Z'],
    ['2026-11-28 16:45:00.357999+00', '2026-11-28T16:45:00.357Z'],
    ['0001-01-01 00:00:00+00', '0001-01-01T00:00:00.000Z']
  ]
  for (const [text, iso] of cases) t.equal(timestamptzToIso(text), iso, text)
})

t.test('other zones and forms go through pg\'s parser and come out in UTC', async (t) => {
  t.equal(timestamptzToIso('2026-11-28 17:45:00.35+01'), '2026-11-28T16:45:00.350Z')
  t.equal(timestamptzToIso('2026-11-28 11:15:00-05:30'), '2026-11-28T16:45:00.000Z')
  t.equal(timestamptzToIso('infinity'), 'infinity', 'not a date: the text as PostgreSQL sent it')
})

t.test('timestamps come back as the instants written, whatever zone the session starts in', { skip: BACKEND !== 'postgres' && 'PostgreSQL only' }, async (t) => {
  const url = new URL(await freshDatabaseUrl(t))
  url.searchParams.set('options', `${url.searchParams.get('options') ?? ''} -c TimeZone=Asia/Kolkata`.trim())
  const { db } = openDatabase(url.toString())
  t.after(() => db.destroy())
  await migrateToLatest(db)
  const written = '2026-11-28T23:59:59.120Z' // 05:29:59.12 on the next day in Kolkata
  const created = await insertPreference(db, 1, { key: 'k', valueJson: '1' }, written)
  t.equal(created.created_at, written)
  t.equal((await findPreference(db, 1, created.id))?.last_updated_at, written)
  const [{ zone }] = (await sql<{ zone: string }>`select current_setting('TimeZone') as zone`.execute(db)).rows
  t.equal(zone, 'UTC', 'each connection of the pool is put in UTC')
})
