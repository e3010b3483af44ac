// How many event streams each user has open, for maxStreamsPerUser: counted in this process,
// or, with a shared Redis, across every instance that uses it.
import { createHash, randomBytes } from 'node:crypto'

/**
 * The parts of an ioredis 5 client (`new Redis(...)`) the plugin uses. Said structurally, so
 * that the package's types do not need ioredis installed when no Redis is used.
 */
export interface PreferencesRedis {
  eval: (script: string, numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>
  evalsha: (sha1: string, numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>
  /** @fastify/rate-limit's Redis store defines its script with it. */
  defineCommand: (name: string, definition: { lua: string, numberOfKeys?: number }) => void
}

/** One open stream's place in its user's count. */
export interface StreamSlot {
  /** Keeps the slot taken (renews its lease in Redis): called at every heartbeat. */
  refresh: () => void
  /** Gives the slot back. Calling it again does nothing. */
  release: () => void
}

export interface StreamSlots {
  /**
   * A slot for one more stream of `userId`, or null when the user has `max` open already.
   * Rejects when the count cannot be known (Redis did not answer).
   */
  acquire: (userId: number, max: number) => Promise<StreamSlot | null>
  /** Resolves once the releases already started are done, or have had their time (before the host closes Redis). */
  settle: () => Promise<void>
}

/** One process's count: what maxStreamsPerUser means without Redis. */
export class LocalStreamSlots implements StreamSlots {
  private readonly open = new Map<number, number>()

  async acquire (userId: number, max: number): Promise<StreamSlot | null> {
    const open = this.open.get(userId) ?? 0
    if (open >= max) return null
    this.open.set(userId, open + 1)
    let released = false
    return {
      refresh: () => {},
      release: () => {
        if (released) return
        released = true
        const left = (this.open.get(userId) ?? 1) - 1
        if (left === 0) this.open.delete(userId)
        else this.open.set(userId, left)
      }
    }
  }

  async settle (): Promise<void> {}

  /** Streams open over all users (for checking that none leaks). */
  get size (): number {
    let n = 0
    for (const open of this.open.values()) n += open
    return n
  }
}

// Each user's streams are a sorted set of stream ids scored by when their lease ends, in
// milliseconds of the Redis server's own clock (instances' clocks may disagree). Expired
// entries, a crashed instance's, are dropped before counting; the key itself expires with
// its last lease. Scripts run atomically, so two instances never both take the last slot.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)`
const EXPIRE_WITH_LAST_LEASE = `local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])`

/** KEYS[1] the user's set; ARGV lease ms, max, stream id. 1 when the slot is taken, else 0. */
const ACQUIRE = `${NOW}
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
${EXPIRE_WITH_LAST_LEASE}
return 1`

/**
 * KEYS[1] the user's set; ARGV lease ms, stream id. Adds the stream back if its lease had
 * lapsed (Redis was away for a while): an open stream counts, even if that puts the user
 * over the limit until one closes.
 */
const REFRESH = `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
${EXPIRE_WITH_LAST_LEASE}
return 1`

/** KEYS[1] the user's set; ARGV stream id. */
const RELEASE = 'return redis.call(\'ZREM\', KEYS[1], ARGV[1])'

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex')
const SCRIPTS = { ACQUIRE, REFRESH, RELEASE }
const SHAS = { ACQUIRE: sha1(ACQUIRE), REFRESH: sha1(REFRESH), RELEASE: sha1(RELEASE) }

export interface RedisStreamSlotsOptions {
  /** Prefix of every key (the plugin's redisPrefix). */
  prefix: string
  /** How long a slot stays taken without a refresh, in milliseconds. */
  leaseMs: number
  /** How long an acquire waits for Redis before it fails, in milliseconds. */
  timeoutMs: number
  /** Told when a refresh or release fails (the lease then ends by itself); once until one succeeds again. */
  onError: (error: unknown, what: 'refresh' | 'release') => void
}

/** The count across instances, in Redis, with leases: a crashed instance's slots expire. */
export class RedisStreamSlots implements StreamSlots {
  // Unique per instance and stream; never reused, so that a late release cannot free another's.
  private readonly instance = randomBytes(8).toString('hex')
  private sequence = 0
  private readonly pending = new Set<Promise<unknown>>()
  // Told once per outage, not once per stream and heartbeat.
  private failing = false

  constructor (private readonly redis: PreferencesRedis, private readonly options: RedisStreamSlotsOptions) {}

  private key (userId: number): string {
    return `${this.options.prefix}streams:${userId}`
  }

  /** Runs a script by its SHA, sending its text once when this Redis has not seen it. */
  private async run (name: keyof typeof SCRIPTS, key: string, ...args: Array<string | number>): Promise<unknown> {
    try {
      return await this.redis.evalsha(SHAS[name], 1, key, ...args)
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error
      return await this.redis.eval(SCRIPTS[name], 1, key, ...args)
    }
  }

  /** Runs a script in the background, kept until done so that settle() can wait for it. */
  private background (what: 'refresh' | 'release', name: keyof typeof SCRIPTS, key: string, ...args: Array<string | number>): void {
    const done = this.run(name, key, ...args)
      .then(() => { this.failing = false }, (error: unknown) => {
        if (this.failing) return
        this.failing = true
        this.options.onError(error, what)
      })
      .finally(() => { this.pending.delete(done) })
    this.pending.add(done)
  }

  async acquire (userId: number, max: number): Promise<StreamSlot | null> {
    const key = this.key(userId)
    const id = `${this.instance}:${++this.sequence}`
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs)
    })
    let taken: unknown
    try {
      taken = await Promise.race([this.run('ACQUIRE', key, this.options.leaseMs, max, id), timeout])
    } catch (error) {
      // The script may still run once Redis answers: take back what it would hold.
      this.background('release', 'RELEASE', key, id)
      throw error
    } finally {
      clearTimeout(timer)
    }
    if (Number(taken) !== 1) return null
    let released = false
    return {
      refresh: () => {
        if (!released) this.background('refresh', 'REFRESH', key, this.options.leaseMs, id)
      },
      release: () => {
        if (released) return
        released = true
        this.background('release', 'RELEASE', key, id)
      }
    }
  }

  async settle (): Promise<void> {
    if (this.pending.size === 0) return
    // Not forever: a Redis that does not answer must not hold the app's close; leases end.
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.options.timeoutMs) })
    await Promise.race([Promise.all([...this.pending]), deadline])
    clearTimeout(timer)
  }
}
