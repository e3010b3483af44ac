// The hand-written baseline the benchmark compares the plugin with: bare Fastify,
// @fastify/jwt and prepared better-sqlite3 statements doing the same work per request
// (verify the token, self-or-admin, validate, query, serialize the same JSON).
// The app, schemas and handlers are in bench/baseline-app.ts, shared with baseline-pg.ts.
// SQLITE_SYNCHRONOUS=OFF runs it without waiting for the disk (the benchmark's no-durability
// ceiling); by default FULL, as the plugin.
import SQLite from 'better-sqlite3'
import { type Layer, runBaseline, type Row } from './baseline-app.js'

const file = process.env.DATABASE_URL ?? 'bench.sqlite'

const db = new SQLite(file)
db.pragma('journal_mode = WAL')
const synchronous = process.env.SQLITE_SYNCHRONOUS ?? 'FULL'
if (!['FULL', 'OFF'].includes(synchronous)) throw new Error('SQLITE_SYNCHRONOUS must be FULL or OFF')
db.pragma(`synchronous = ${synchronous}`)
db.pragma('busy_timeout = 5000')

interface SqliteRow extends Row { id: number, user_id: number, created_at: string, last_updated_at: string }
const stmt = {
  count: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM user_preference WHERE user_id = ?'),
  insert: db.prepare<[number, string, string, string, string], SqliteRow>(
    'INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at) VALUES (?, ?, ?, ?, ?) RETURNING *'),
  get: db.prepare<[number, number], SqliteRow>('SELECT * FROM user_preference WHERE user_id = ? AND id = ?'),
  getByKey: db.prepare<[number, string], SqliteRow>('SELECT * FROM user_preference WHERE user_id = ? AND key = ?'),
  countKey: db.prepare<[number, string], { n: number }>('SELECT count(*) AS n FROM user_preference WHERE user_id = ? AND key = ?'),
  listKey: db.prepare<[number, string, number, number], SqliteRow>(
    'SELECT * FROM user_preference WHERE user_id = ? AND key = ? ORDER BY id LIMIT ? OFFSET ?'),
  list: db.prepare<[number, number, number], SqliteRow>('SELECT * FROM user_preference WHERE user_id = ? ORDER BY id LIMIT ? OFFSET ?'),
  patchValue: db.prepare<[string, string, number, number], SqliteRow>(
    'UPDATE user_preference SET value = ?, last_updated_at = ? WHERE user_id = ? AND id = ? RETURNING *'),
  delete: db.prepare<[number, number]>('DELETE FROM user_preference WHERE user_id = ? AND id = ?'),
  upsert: db.prepare<[number, string, string, string, string], SqliteRow>(`INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, last_updated_at = excluded.last_updated_at RETURNING *`),
  layers: db.prepare<[number, string], Layer>(`SELECT NULL AS scope, key, value, 0 AS locked FROM user_preference WHERE user_id = ?
    UNION ALL SELECT scope, key, value, locked FROM preference_default WHERE scope IN (SELECT value FROM json_each(?))`)
}
// Each write is one plain statement, as a person writes it by hand: no per-user limit, no
// locks, no revision or change log. The plugin has to earn those guarantees on top.
function create (userId: number, key: string, value: string, now: string): SqliteRow | 'exists' {
  try {
    return stmt.insert.get(userId, key, value, now, now)!
  } catch {
    return 'exists'
  }
}

// One transaction, one prepared statement run per row.
const importMany = db.transaction((userId: number, entries: Array<[string, string]>, now: string): number => {
  for (const [key, value] of entries) stmt.upsert.run(userId, key, value, now, now)
  return entries.length
})

await runBaseline({
  create,
  importMany,
  get: (userId, id) => stmt.get.get(userId, id),
  getByKey: (userId, key) => stmt.getByKey.get(userId, key),
  count: (userId, key) => key === undefined ? stmt.count.get(userId)!.n : stmt.countKey.get(userId, key)!.n,
  list: (userId, key, limit, offset) => key === undefined ? stmt.list.all(userId, limit, offset) : stmt.listKey.all(userId, key, limit, offset),
  patchValue: (value, now, userId, id) => stmt.patchValue.get(value, now, userId, id),
  // A row created now has created_at = now; an updated one keeps its older created_at.
  upsertByKey: (userId, key, value, now) => {
    const row = stmt.upsert.get(userId, key, value, now, now)!
    return { row, created: row.created_at === now }
  },
  delete: (userId, id) => stmt.delete.run(userId, id).changes > 0,
  layers: (userId, scopes) => stmt.layers.all(userId, JSON.stringify(scopes)),
  close: () => { db.close() }
})
