// The hand-written PostgreSQL baseline: the same app as bench/baseline.ts
// (bench/baseline-app.ts) on a pg.Pool of 10 (the plugin's default pool size) with named
// prepared statements ({ name, text, values }: parsed once per connection).
import pg from 'pg'
import { type Layer, runBaseline, type Row } from './baseline-app.js'

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
// statement_timeout as the plugin sets it by default (sent once, at connect).
const pool = new pg.Pool({ connectionString: url, max: 10, statement_timeout: 10_000 })
pool.on('error', () => {})

const COLUMNS = 'id, user_id, key, value, created_at, last_updated_at'
const q = {
  count: 'SELECT count(*)::int AS n FROM user_preference WHERE user_id = $1',
  insert: `INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING ${COLUMNS}`,
  get: `SELECT ${COLUMNS} FROM user_preference WHERE user_id = $1 AND id = $2`,
  getByKey: `SELECT ${COLUMNS} FROM user_preference WHERE user_id = $1 AND key = $2`,
  countKey: 'SELECT count(*)::int AS n FROM user_preference WHERE user_id = $1 AND key = $2',
  list: `SELECT ${COLUMNS} FROM user_preference WHERE user_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
  listKey: `SELECT ${COLUMNS} FROM user_preference WHERE user_id = $1 AND key = $2 ORDER BY id LIMIT $3 OFFSET $4`,
  patchValue: `UPDATE user_preference SET value = $1, last_updated_at = $2 WHERE user_id = $3 AND id = $4 RETURNING ${COLUMNS}`,
  // xmax is 0 in a row version this statement inserted, not in one it updated.
  upsert: `INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at) VALUES ($1, $2, $3, $4, $4)
    ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, last_updated_at = excluded.last_updated_at
    RETURNING ${COLUMNS}, (xmax = 0) AS created`,
  delete: 'DELETE FROM user_preference WHERE user_id = $1 AND id = $2',
  // Every row of an import in one multi-row statement (the keys and values as two arrays).
  upsertMany: `INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at)
    SELECT $1, k, v, $4, $4 FROM unnest($2::text[], $3::text[]) AS t (k, v)
    ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, last_updated_at = excluded.last_updated_at`,
  layers: `SELECT NULL AS scope, key, value, 0 AS locked FROM user_preference WHERE user_id = $1
    UNION ALL SELECT scope, key, value, locked FROM preference_default WHERE scope = ANY($2::text[])`
} as const

type Name = keyof typeof q
const run = async <T extends pg.QueryResultRow>(client: pg.Pool | pg.PoolClient, name: Name, values: unknown[]) =>
  client.query<T>({ name, text: q[name], values })
const one = async (name: Name, values: unknown[]) => (await run<Row>(pool, name, values)).rows[0]

// Each write is one plain autocommit statement, as a person writes it by hand: no per-user
// limit, no locks, no revision or change log. The plugin has to earn those guarantees on top.
async function create (userId: number, key: string, value: string, now: string): Promise<Row | 'exists'> {
  try {
    return await one('insert', [userId, key, value, now])
  } catch (error) {
    if ((error as { code?: string }).code === '23505') return 'exists'
    throw error
  }
}

await runBaseline({
  create,
  upsertByKey: async (userId, key, value, now) => {
    const { rows: [row] } = await run<Row & { created: boolean }>(pool, 'upsert', [userId, key, value, now])
    return { row, created: row.created }
  },
  importMany: async (userId, entries, now) => {
    await run(pool, 'upsertMany', [userId, entries.map(([key]) => key), entries.map(([, value]) => value), now])
    return entries.length
  },
  get: (userId, id) => one('get', [userId, id]),
  getByKey: (userId, key) => one('getByKey', [userId, key]),
  count: async (userId, key) => (await run<{ n: number }>(pool, key === undefined ? 'count' : 'countKey',
    key === undefined ? [userId] : [userId, key])).rows[0].n,
  list: async (userId, key, limit, offset) => (await run<Row>(pool, key === undefined ? 'list' : 'listKey',
    key === undefined ? [userId, limit, offset] : [userId, key, limit, offset])).rows,
  patchValue: (value, now, userId, id) => one('patchValue', [value, now, userId, id]),
  delete: async (userId, id) => ((await run(pool, 'delete', [userId, id])).rowCount ?? 0) > 0,
  layers: async (userId, scopes) => (await run<Layer>(pool, 'layers', [userId, scopes])).rows,
  close: () => pool.end()
})
