import { listenForRevisions, type RevisionListener } from '../db/change-notify.js'
import type { ChangeBus } from './change-bus.js'

/** Where the fan-out reports its connection's comings and goings. */
export interface FanoutLogger {
  info: (details: object, message: string) => void
  warn: (details: object, message: string) => void
}

export interface PgFanoutOptions {
  /** The database's postgres:// URL (its search_path names the schema, and so the channel). */
  connectionString: string
  /** Where the revisions heard are told (this process's event streams). */
  bus: ChangeBus
  /** The current revision of each of these users (none for a user at 0). */
  currentRevisions: (userIds: number[]) => Promise<Map<number, number>>
  log: FanoutLogger
  /** Opening the connection and each of its queries, in milliseconds (default 5000). */
  timeoutMs?: number
  /** The first wait before reconnecting, doubled after each failure up to `maxRetryMs`. */
  minRetryMs?: number
  maxRetryMs?: number
  /**
   * How often the connection is checked (a partition may never close it) and the streams'
   * users caught up, in milliseconds.
   */
  pingMs?: number
}

/**
 * PostgreSQL fan-out between instances: one connection of its own LISTENs on the schema's
 * channel, and every revision heard (`<user_id>:<rev>`, from any instance, this one included)
 * is told to the local ChangeBus; the streams read the data from the change log. When the
 * connection is lost it reconnects by itself, with backoff, and then tells every user with an
 * open stream their current revision, so that those streams fetch what was missed meanwhile.
 */
export class PgFanout {
  private listener: RevisionListener | undefined
  private opening: Promise<void> | undefined
  private retry: NodeJS.Timeout | undefined
  private ping: NodeJS.Timeout | undefined
  private failures = 0
  private closed = false
  private readonly timeoutMs: number
  private readonly minRetryMs: number
  private readonly maxRetryMs: number
  private readonly pingMs: number

  constructor (private readonly options: PgFanoutOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000
    this.minRetryMs = options.minRetryMs ?? 200
    this.maxRetryMs = options.maxRetryMs ?? 10_000
    this.pingMs = options.pingMs ?? 30_000
  }

  /** Starts listening, in the background: the first connection is made like any reconnection. */
  start (): void {
    if (this.closed || this.opening !== undefined || this.listener !== undefined) return
    this.opening = this.open().then((up) => {
      this.opening = undefined
      if (!up) this.reconnectLater()
    })
  }

  /** True while the listening connection is up. */
  get listening (): boolean {
    return this.listener !== undefined
  }

  /** The listening connection's backend pid, while it is up. */
  get pid (): number | undefined {
    return this.listener?.pid
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.retry)
    clearInterval(this.ping)
    this.retry = undefined
    await this.opening
    const listener = this.listener
    this.listener = undefined
    await listener?.close()
  }

  /** False when no connection could be opened (the caller tries again later). */
  private async open (): Promise<boolean> {
    let listener: RevisionListener
    try {
      listener = await listenForRevisions(this.options.connectionString, {
        timeoutMs: this.timeoutMs,
        onNotice: ({ userId, rev }) => { this.options.bus.publish(userId, rev) },
        onLost: (error) => { this.lost(listener, error) }
      })
    } catch (error) {
      if (!this.closed) {
        this.options.log.warn({ err: error }, 'preferences: cannot open the connection that listens for other instances\' changes; retrying')
      }
      return false
    }
    if (this.closed) {
      await listener.close()
      return true
    }
    this.listener = listener
    this.failures = 0
    this.options.log.info({ pid: listener.pid }, 'preferences: listening for changes committed through other instances')
    // The check also catches up: a revision whose announcement never came (its instance died
    // between the commit and the NOTIFY) reaches the streams here at the latest.
    this.ping = setInterval(() => {
      listener.ping().then(async () => this.replay(listener), (error: Error) => { this.lost(listener, error) })
    }, this.pingMs)
    this.ping.unref()
    await this.replay(listener)
    return true
  }

  /**
   * What was committed while nobody listened: each user with a stream here is told their
   * current revision (the bus drops it where the streams are already there).
   */
  private async replay (listener: RevisionListener): Promise<void> {
    const users = this.options.bus.users()
    if (users.length === 0) return
    let revs: Map<number, number>
    try {
      revs = await this.options.currentRevisions(users)
    } catch (error) {
      // Without the catch-up the streams could miss a revision until the next one: start over.
      this.lost(listener, error as Error)
      return
    }
    if (this.listener !== listener) return
    for (const [userId, rev] of revs) this.options.bus.publish(userId, rev)
  }

  private lost (listener: RevisionListener, error: Error | undefined): void {
    if (this.listener !== listener || this.closed) return
    this.listener = undefined
    clearInterval(this.ping)
    this.options.log.warn({ err: error }, 'preferences: lost the connection that listens for other instances\' changes; reconnecting')
    listener.close().catch(() => {})
    this.reconnectLater()
  }

  private reconnectLater (): void {
    if (this.closed || this.retry !== undefined) return
    const delay = Math.min(this.maxRetryMs, this.minRetryMs * 2 ** this.failures)
    this.failures = Math.min(this.failures + 1, 30)
    // Jitter: instances that lost the database together do not come back in step.
    this.retry = setTimeout(() => {
      this.retry = undefined
      this.start()
    }, delay * (0.5 + Math.random() / 2))
  }
}
