import type { RevisionNotice } from '../db/change-notify.js'

/** How long a finding that nobody else listens holds before it is asked again. */
export const AUDIENCE_CHECK_MS = 1000

/** Keeps `rev` for `userId` unless a later one is there: only a user's latest revision matters. */
function keepLatest (revisions: Map<number, number>, userId: number, rev: number): void {
  if ((revisions.get(userId) ?? -1) < rev) revisions.set(userId, rev)
}

/**
 * Tells the other instances about this one's committed revisions, after their commits: the
 * revisions committed while an announcement is on its way go out together in the next one,
 * so announcing costs one small transaction per batch, not one per write. Only a user's
 * latest revision matters (streams read the log from where they are).
 *
 * With `audience` (is any other instance listening?), asked at most once a second while
 * there are revisions to announce, a lone instance announces nothing. What it held back
 * since it last looked goes out as soon as a listener appears: a listener that was not there
 * when it last looked opened its streams after those revisions, so their log reads had them.
 */
export class RevisionAnnouncer {
  private pending = new Map<number, number>()
  /** Revisions held back since the last look found nobody listening. */
  private unheard = new Map<number, number>()
  private heard: { listening: boolean, at: number } | undefined
  private sending: Promise<void> | undefined
  /** An announcement failed: the listeners' periodic catch-up covers what it carried. */
  onError: (error: unknown) => void = () => {}

  constructor (
    private readonly send: (notices: RevisionNotice[]) => Promise<void>,
    private readonly audience?: () => Promise<boolean>,
    private readonly now: () => number = Date.now
  ) {}

  announce (userId: number, rev: number): void {
    keepLatest(this.pending, userId, rev)
    this.sending ??= this.drain()
  }

  /** Sends what is still pending (at close). */
  async flush (): Promise<void> {
    while (this.sending !== undefined) await this.sending
  }

  /** True when someone may be listening; when nobody is, `batch` joins the held-back ones. */
  private async listened (batch: Map<number, number>): Promise<boolean> {
    if (this.audience === undefined) return true
    if (this.heard === undefined || this.now() - this.heard.at >= AUDIENCE_CHECK_MS) {
      let listening: boolean
      try {
        listening = await this.audience()
      } catch (error) {
        this.onError(error)
        listening = true
      }
      // Nobody listened just now: whoever listens later reads what came before from the log.
      if (!listening) this.unheard = new Map()
      this.heard = { listening, at: this.now() }
    }
    if (this.heard.listening) return true
    for (const [userId, rev] of batch) keepLatest(this.unheard, userId, rev)
    return false
  }

  private async drain (): Promise<void> {
    // Writes that finish in this turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve))
    while (this.pending.size > 0) {
      const pending = this.pending
      this.pending = new Map()
      try {
        if (!await this.listened(pending)) continue
        for (const [userId, rev] of this.unheard) keepLatest(pending, userId, rev)
        this.unheard = new Map()
        await this.send([...pending].map(([userId, rev]) => ({ userId, rev })))
      } catch (error) {
        this.onError(error)
      }
    }
    this.sending = undefined
  }
}
