/** Tells the open event streams of a user that a revision was committed. */
export type RevisionListener = (rev: number) => void

/**
 * In-process fan-out of committed revisions, by user. Listeners learn only the revision: they
 * read what changed from the change log, so a missed or repeated signal costs nothing.
 */
export class ChangeBus {
  private readonly listeners = new Map<number, Set<RevisionListener>>()

  subscribe (userId: number, listener: RevisionListener): () => void {
    let set = this.listeners.get(userId)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(userId, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.listeners.get(userId) === set) this.listeners.delete(userId)
    }
  }

  publish (userId: number, rev: number): void {
    const set = this.listeners.get(userId)
    if (set === undefined) return
    for (const listener of [...set]) listener(rev)
  }

  /** How many listeners there are, over all users (for checking that none leaks). */
  get size (): number {
    let n = 0
    for (const set of this.listeners.values()) n += set.size
    return n
  }
}
