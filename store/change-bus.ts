/** Tells the open event streams of a user that a revision was committed. */
export type RevisionListener = (rev: number) => void

interface Subscribers {
  listeners: Set<RevisionListener>
  /** The highest revision told to them. */
  told: number
}

/**
 * In-process fan-out of committed revisions, by user. Listeners learn only the revision: they
 * read what changed from the change log, so a missed or repeated signal costs nothing. A
 * revision at or below one already told is dropped: a user's revisions commit in order, so
 * the listeners' reading after the higher one covered it (a local write is told at once, and
 * again when PostgreSQL's notification of it comes back).
 */
export class ChangeBus {
  private readonly byUser = new Map<number, Subscribers>()

  subscribe (userId: number, listener: RevisionListener): () => void {
    let subscribers = this.byUser.get(userId)
    if (subscribers === undefined) {
      subscribers = { listeners: new Set(), told: 0 }
      this.byUser.set(userId, subscribers)
    }
    const mine = subscribers
    mine.listeners.add(listener)
    return () => {
      mine.listeners.delete(listener)
      if (mine.listeners.size === 0 && this.byUser.get(userId) === mine) this.byUser.delete(userId)
    }
  }

  publish (userId: number, rev: number): void {
    const subscribers = this.byUser.get(userId)
    if (subscribers === undefined || rev <= subscribers.told) return
    subscribers.told = rev
    for (const listener of [...subscribers.listeners]) listener(rev)
  }

  /** The users who have listeners now. */
  users (): number[] {
    return [...this.byUser.keys()]
  }

  /** How many listeners there are, over all users (for checking that none leaks). */
  get size (): number {
    let n = 0
    for (const subscribers of this.byUser.values()) n += subscribers.listeners.size
    return n
  }
}
