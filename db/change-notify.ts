import { type RawBuilder, sql } from 'kysely'
import pg from 'pg'

// On PostgreSQL every committed revision is announced with NOTIFY, so that the event streams
// of every instance hear of it; the data itself is read from the change log. The channel is
// the schema's (named by its oid, which fits a channel name whatever the schema is called):
// instances, tenants or tests on other schemas of one database do not hear each other.

/** The channel of the schema the connection works in (the first existing one of search_path). */
const CHANNEL_SQL = "'preferences_' || to_regnamespace(quote_ident(current_schema()))::oid::text"
const CHANNEL = sql.raw<string>(CHANNEL_SQL)

/** What the connection listening for revisions calls itself (pg_stat_activity.application_name). */
export const LISTEN_APPLICATION_NAME = 'preferences-listen'

/**
 * The NOTIFY of a user's new revision, `<user_id>:<rev>`: an expression for the RETURNING of
 * the statement that bumps the revision, so it costs no round trip of its own and is sent
 * when (and only if) that transaction commits.
 */
export const notifyRevision = (userId: RawBuilder<unknown>, rev: RawBuilder<unknown>): RawBuilder<unknown> =>
  sql`pg_notify(${CHANNEL}, ${userId}::text || ':' || ${rev}::text)`

/** A revision another connection committed. */
export interface RevisionNotice {
  userId: number
  rev: number
}

/** Reads a notification's payload; undefined when it is not one of ours. */
export function parseRevisionNotice (payload: string | undefined): RevisionNotice | undefined {
  const match = /^([0-9]{1,16}):([0-9]{1,16})$/.exec(payload ?? '')
  if (match === null) return undefined
  const userId = Number(match[1])
  const rev = Number(match[2])
  return Number.isSafeInteger(userId) && Number.isSafeInteger(rev) ? { userId, rev } : undefined
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
    const notice = parseRevisionNotice(message.payload)
    if (notice !== undefined) options.onNotice(notice)
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
