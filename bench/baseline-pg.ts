// The hand-written PostgreSQL baseline: the same app as bench/baseline.ts
// (bench/baseline-app.ts) on a pg.Pool of 10 (the plugin's default pool size) with named
// prepared statements ({ name, text, values }: parsed once per connection).
import pg from 'pg'
import { type Layer, MAX_PER_USER, runBaseline, type Row } from './baseline-app.js'

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
// statement_timeout as the plugin sets it by default (sent once, at connect).
const pool = new pg.Pool({ connectionString: url, max: 10, statement_timeout: 10_000 })
pool.on('error', () => {})

const COLUMNS = 'id, user_id, key, value, created_at, last_updated_at'
const q = {
  // The plugin serialises creates per user with the same advisory lock: under READ COMMITTED
  // a count and an insert alone could overshoot the limit when two creates interleave.
  lock: 'SELECT pg_advisory_xact_lock(1886545254, ($1::bigint % 2147483647)::int)', // 0x70726566 ('pref'), the plugin's lock class
  count: 'SELECT count(*)::int AS n FROM user_preference WHERE user_id = $1',
  insert: `INSERT INTO user_preference (user_id, key, value, created_at, last_updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING ${COLUMNS}`,
  get: `SELECT ${COLUMNS} FROM user_preference WHERE user_id = $1 AND id = $2`,
  getByKey: `SELECT ${COLUMNS} FROM user_preference WHERE user_id = $1 AND key = $2`,
  countKey: 'SELECT count(*)::int AS n FROM user_preference WHERE user_id = $1 AND key = $2',
  list: `SELECT ${COLUMNS} FROM user_preference WHERE user_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
  listKey: `SELECT ${COLUMNS} FROM user_preference WHERE user_id = $1 AND key = $2 ORDER BY id LIMIT $3 OFFSET $4`,
  patchValue: `UPDATE user_preference SET value = $1, last_updated_at = $2 WHERE user_id = $3 AND id = $4 RETURNING ${COLUMNS}`,
  updateByKey: `UPDATE user_preference SET value = $1, last_updated_at = $2 WHERE user_id = $3 AND key = $4 RETURNING ${COLUMNS}`,
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

/** Per-user limit count and insert in one transaction, under the plugin's create lock. */
async function create (userId: number, key: string, value: string, now: string): Promise<Row | 'limit' | 'exists'> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    try {
      await run(client, 'lock', [userId])
      const { rows: [{ n }] } = await run<{ n: number }>(client, 'count', [userId])
      if (n >= MAX_PER_USER) {
        await client.query('ROLLBACK')
        return 'limit'
      }
      const { rows: [row] } = await run<Row>(client, 'insert', [userId, key, value, now])
      await client.query('COMMIT')
      return row
    } catch (error) {
      await client.query('ROLLBACK')
      if ((error as { code?: string }).code === '23505') return 'exists'
      throw error
    }
  } finally {
    client.release()
  }
}

await runBaseline({
  create,
  // An existing key is one UPDATE; a new one is created as by create.
  upsertByKey: async (userId, key, value, now) => {
    const updated = await one('updateByKey', [value, now, userId, key])
    if (updated !== undefined) return { row: updated, created: false }
    const created = await create(userId, key, value, now)
    if (created === 'limit') return created
    // Created by another request meanwhile: update that one.
    if (created === 'exists') return { row: await one('updateByKey', [value, now, userId, key]), created: false }
    return { row: created, created: true }
  },
  importMany: async (userId, entries, now) => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      try {
        await run(client, 'lock', [userId])
        await run(client, 'upsertMany', [userId, entries.map(([key]) => key), entries.map(([, value]) => value), now])
        const { rows: [{ n }] } = await run<{ n: number }>(client, 'count', [userId])
        if (n > MAX_PER_USER) {
          await client.query('ROLLBACK')
          return 'limit'
        }
        await client.query('COMMIT')
        return entries.length
      } catch (error) {
        await client.query('ROLLBACK')
        throw error
      }
    } finally {
      client.release()
    }
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
