import { type Kysely, sql } from 'kysely'
import pg from 'pg'
import type { Database } from './types.js'

// On PostgreSQL every committed revision is announced with NOTIFY, so that the event streams
// of every instance hear of it; the data itself is read from the change log. The channel is
// the schema's (named by its oid, which fits a channel name whatever the schema is called):
// instances, tenants or tests on other schemas of one database do not hear each other.

/** The channel of the schema the connection works in (the first existing one of search_path). */
export const CHANNEL_SQL = "'preferences_' || to_regnamespace(quote_ident(current_schema()))::oid::text"
const CHANNEL = sql.raw<string>(CHANNEL_SQL)

/** What the connection listening for revisions calls itself (pg_stat_activity.application_name). */
export const LISTEN_APPLICATION_NAME = 'preferences-listen'

/** A revision committed by some instance. */
export interface RevisionNotice {
  userId: number
  rev: number
}

// A payload carries many revisions, `<user_id>:<rev>` separated by commas, kept under
// NOTIFY's 8000-byte limit.
const PAYLOAD_BYTES = 7_000

/**
 * Announces committed revisions on the schema's channel, in one statement and its own
 * transaction. Not in the writes' own transactions: PostgreSQL commits transactions that
 * sent a NOTIFY one at a time (a database-wide lock held until the commit is on disk), which
 * would stop concurrent writes from sharing a flush.
 */
export async function announceRevisions (db: Kysely<Database>, notices: readonly RevisionNotice[]): Promise<void> {
  const payloads: string[] = []
  let payload = ''
  for (const { userId, rev } of notices) {
    const pair = `${userId}:${rev}`
    if (payload.length + pair.length + 1 > PAYLOAD_BYTES) {
      payloads.push(payload)
      payload = ''
    }
    payload = payload === '' ? pair : `${payload},${pair}`
  }
  if (payload !== '') payloads.push(payload)
  if (payloads.length === 0) return
  await sql`select pg_notify(${CHANNEL}, p) from unnest(cast(${payloads} as text[])) as p`.execute(db)
}

/**
 * True when some connection to the database other than `ownPid` listens for revisions (of
 * this schema or another: pg_stat_activity does not say which channel). Everyone may read
 * the application names and pids of pg_stat_activity.
 */
export async function othersListen (db: Kysely<Database>, ownPid: number | undefined): Promise<boolean> {
  const { rows } = await sql<{ listening: boolean }>`select exists (
      select 1 from pg_stat_activity
      where application_name = ${LISTEN_APPLICATION_NAME} and datname = current_database() and pid <> ${ownPid ?? 0}
    ) as listening`.execute(db)
  return rows[0]?.listening === true
}

/** Reads a notification's payload: the revisions in it that are well formed. */
export function parseRevisionNotices (payload: string | undefined): RevisionNotice[] {
  const notices: RevisionNotice[] = []
  for (const pair of (payload ?? '').split(',')) {
    const match = /^([0-9]{1,16}):([0-9]{1,16})$/.exec(pair)
    if (match === null) continue
    const userId = Number(match[1])
    const rev = Number(match[2])
    if (Number.isSafeInteger(userId) && Number.isSafeInteger(rev)) notices.push({ userId, rev })
  }
  return notices
}

export interface RevisionListenerOptions {
  /** A revision committed through any connection to the schema (this process's own included). */
  onNotice: (notice: RevisionNotice) => void
  /** The connection is gone (called once, and never after close()). */
  onLost: (error?: Error) => void
  /** How long opening the connection and each query may take, in milliseconds. */
  timeoutMs: number
}

/** A connection listening on the schema's channel. */
export interface RevisionListener {
  /** The backend's process id (pg_stat_activity.pid). */
  readonly pid: number
  /** Fails when the connection no longer answers. */
  ping: () => Promise<void>
  close: () => Promise<void>
}

/**
 * Opens a connection of its own (LISTEN holds it: it cannot come from the pool) and listens
 * on the channel of the schema that `connectionString` works in. Rejects when it cannot.
 */
export async function listenForRevisions (connectionString: string, options: RevisionListenerOptions): Promise<RevisionListener> {
  const client = new pg.Client({
    connectionString,
    application_name: LISTEN_APPLICATION_NAME,
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
    keepAlive: true
  })
  // A property, not a variable: the client's events change it while connect() is awaited.
  const status: { state: 'opening' | 'open' | 'gone' } = { state: 'opening' }
  let channel = ''
  let pid = 0
  const lost = (error?: Error): void => {
    if (status.state === 'open') options.onLost(error)
    status.state = 'gone'
  }
  client.on('error', lost)
  client.on('end', () => { lost() })
  client.on('notification', (message) => {
    if (status.state !== 'open' || message.channel !== channel) return
    for (const notice of parseRevisionNotices(message.payload)) options.onNotice(notice)
  })
  const end = async (): Promise<void> => {
    status.state = 'gone'
    let timer: NodeJS.Timeout | undefined
    // A connection the network lost may never answer the goodbye: do not wait on it for long.
    await Promise.race([
      client.end().catch(() => {}),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, options.timeoutMs) })
    ])
    clearTimeout(timer)
  }
  try {
    await client.connect()
    const { rows } = await client.query<{ channel: string, pid: number }>(`SELECT ${CHANNEL_SQL} AS channel, pg_backend_pid() AS pid`)
    channel = rows[0].channel
    pid = rows[0].pid
    await client.query(`LISTEN ${client.escapeIdentifier(channel)}`)
  } catch (error) {
    await end()
    throw error
  }
  if (status.state === 'gone') {
    await end()
    throw new Error('the listening connection closed while opening')
  }
  status.state = 'open'
  return {
    pid,
    ping: async () => { await client.query('SELECT 1') },
    close: end
  }
}
