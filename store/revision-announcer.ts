import type { RevisionNotice } from '../db/change-notify.js'

/**
 * Tells the other instances about this one's committed revisions, after their commits: the
 * revisions committed while an announcement is on its way go out together in the next one,
 * so announcing costs one small transaction per batch, not one per write. Only a user's
 * latest revision matters (streams read the log from where they are).
 */
export class RevisionAnnouncer {
  private pending = new Map<number, number>()
  private sending: Promise<void> | undefined
  /** An announcement failed: the listeners' periodic catch-up covers what it carried. */
  onError: (error: unknown) => void = () => {}

  constructor (private readonly send: (notices: RevisionNotice[]) => Promise<void>) {}

  announce (userId: number, rev: number): void {
    if ((this.pending.get(userId) ?? -1) < rev) this.pending.set(userId, rev)
    this.sending ??= this.drain()
  }

  /** Sends what is still pending (at close). */
  async flush (): Promise<void> {
    while (this.sending !== undefined) await this.sending
  }

  private async drain (): Promise<void> {
    // Writes that finish in this turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve))
    while (this.pending.size > 0) {
      const batch = [...this.pending].map(([userId, rev]) => ({ userId, rev }))
      this.pending = new Map()
      try {
        await this.send(batch)
      } catch (error) {
        this.onError(error)
      }
    }
    this.sending = undefined
  }
}
