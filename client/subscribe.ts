import type { EffectiveEntry, EffectiveView } from '../schemas/effective-view.js'
import type { ErrorBody } from '../schemas/error-body.js'
import type { PreferencesErrorCode } from '../schemas/error-catalogue.js'
import type { Revision } from '../schemas/revision.js'
import { PreferencesApiError } from './api-error.js'
import type { PreferencesClientOptions } from './options.js'

// The event stream read over fetch, not EventSource: the token stays in the Authorization
// header (EventSource can only put it in the URL, where logs and proxies keep it).

/** Where the stream is and who reads it: the client's own options. */
export interface StreamOptions extends PreferencesClientOptions {
  /** Aborting it is the same as `close()`. */
  signal?: AbortSignal
  /** The first wait before reconnecting, in ms (default 1000); it doubles per failed attempt, with jitter. */
  retryMs?: number
  /** The longest wait before reconnecting, in ms (default 30 000). */
  maxRetryMs?: number
  /** Reconnects when nothing, not even a heartbeat, arrives for this long (default 45 000 ms). */
  idleMs?: number
  /**
   * Each problem: a failed connection, a dropped stream, an error answer, a callback that threw.
   * `willRetry` false: the subscription has stopped (an answer that retrying cannot change).
   */
  onError?: (error: unknown, willRetry: boolean) => void
  /**
   * Share one stream among the tabs of this browser that subscribe under this name: one tab
   * holds the connection (a Web Lock decides which) and passes its events to the others over a
   * BroadcastChannel; when it closes, another takes over where it was. Without it every tab
   * holds a connection of its own, and over HTTP/1.1 a browser opens at most six to a server.
   * Name it for the server and the user (`${baseUrl} ${userId}`): the tabs share what one
   * token may read. Where the browser has no Web Locks or BroadcastChannel (Node), ignored.
   */
  shareAs?: string
}

export interface SubscribeOptions extends StreamOptions {
  /** Start after this revision (replayed from the change log); default: from now. */
  since?: number
  /** Each connection's first event: the user's revision at that moment. */
  onHello?: (rev: number) => void | Promise<void>
  /** Each revision, once and in order, across reconnections. */
  onChange: (revision: Revision) => void | Promise<void>
  /**
   * The revisions after the last one received are gone (expired from the log, or an erasure):
   * read the preferences again. Later changes come after `rev`.
   */
  onReset?: (rev: number) => void | Promise<void>
}

/**
 * A running subscription. Callbacks run one at a time; one that throws (or rejects) makes it
 * reconnect and deliver that event again, so an event counts as received once its callback ends.
 */
export interface Subscription {
  /** The last revision received (hello, change or reset); undefined before the first. */
  readonly rev: number | undefined
  /** Closes the stream and stops reconnecting. */
  close: () => void
  /** Resolves when it stops: after close(), an abort, or an error that retrying cannot fix. */
  readonly done: Promise<void>
}

interface Connection {
  fetch: typeof globalThis.fetch
  /** `.../user/{id}/preference` */
  root: string
  headers: (extra: Record<string, string>) => Promise<Record<string, string>>
}

function connect (options: StreamOptions): Connection {
  const fetchImpl = options.fetch ?? globalThis.fetch
  if (typeof fetchImpl !== 'function') throw new TypeError('no fetch: pass options.fetch')
  const user = options.userId ?? 'me'
  if (user !== 'me' && !(Number.isSafeInteger(user) && user > 0)) {
    throw new TypeError(`userId must be a positive integer or "me", got ${JSON.stringify(user)}`)
  }
  return {
    // Called as a plain function: a browser's fetch throws "Illegal invocation" when `this` is not the window.
    fetch: async (input, init) => fetchImpl(input, init),
    root: `${String(options.baseUrl).replace(/\/+$/, '')}/user/${user}/preference`,
    headers: async (extra) => {
      const token = typeof options.token === 'function' ? await options.token() : options.token
      return { ...options.headers, ...extra, ...(token !== undefined && { authorization: `Bearer ${token}` }) }
    }
  }
}

/** The error an answer that is not the one asked for stands for. */
async function answerError (response: Response, what: string): Promise<PreferencesApiError> {
  const text = await response.text().catch(() => '')
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  const b = body as Partial<ErrorBody> | null
  return b !== null && typeof b === 'object' && typeof b.code === 'string' && typeof b.message === 'string'
    ? new PreferencesApiError(response.status, b.code as PreferencesErrorCode, b.message, body)
    : new PreferencesApiError(response.status, 'PREFERENCE_UNEXPECTED_RESPONSE', `Unexpected answer ${response.status} to ${what}`, body)
}

/** Waits `ms`, or less if `signal` aborts. */
const sleep = async (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  const timer = setTimeout(done, ms)
  signal.addEventListener('abort', done, { once: true })
  function done (): void {
    clearTimeout(timer)
    signal.removeEventListener('abort', done)
    resolve()
  }
})

/** A controller that `signal` aborts as well. */
function linked (signal: AbortSignal | undefined): AbortController {
  const controller = new AbortController()
  if (signal?.aborted === true) controller.abort()
  else signal?.addEventListener('abort', () => controller.abort(), { once: true })
  return controller
}

interface ServerEvent { type: string, data: string }

/** The revision a hello, change or reset event names. */
const revOf = (event: ServerEvent): number => (JSON.parse(event.data) as { rev: number }).rev

/**
 * Reads server-sent events from `body` and hands each to `dispatch`, one at a time; `touch`
 * is called for every chunk (events and heartbeat comments alike).
 */
async function readEvents (body: ReadableStream<Uint8Array>, touch: () => void, dispatch: (event: ServerEvent) => Promise<void>): Promise<void> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  // A line ends at CRLF, LF or CR; a CR at the end of the text waits for the next chunk.
  const eol = /\r\n|\r(?=[^\n])|\n/g
  let text = ''
  let type = ''
  let data: string[] = []
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      touch()
      text += decoder.decode(value, { stream: true })
      const events: ServerEvent[] = []
      let start = 0
      eol.lastIndex = 0
      for (let m = eol.exec(text); m !== null; m = eol.exec(text)) {
        const line = text.slice(start, m.index)
        start = eol.lastIndex
        if (line === '') {
          if (data.length > 0) events.push({ type: type === '' ? 'message' : type, data: data.join('\n') })
          type = ''
          data = []
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        const fieldValue = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1))
        if (field === 'event') type = fieldValue
        else if (field === 'data') data.push(fieldValue)
        // `id` repeats the revision that the data holds; `retry` is the client's own choice here.
      }
      text = text.slice(start)
      for (const event of events) await dispatch(event)
    }
  } finally {
    reader.cancel().catch(() => {})
  }
}

/**
 * Subscribes to a user's changes: `GET .../preference/events/` read over fetch, with the token
 * in the Authorization header. After a drop it reconnects with exponential backoff and jitter,
 * sending Last-Event-ID so that the server replays what was missed: no revision lost or repeated.
 */
export function subscribe (options: SubscribeOptions): Subscription {
  const connection = connect(options)
  const stop = linked(options.signal)
  const retryMs = options.retryMs ?? 1000
  const maxRetryMs = options.maxRetryMs ?? 30_000
  const idleMs = options.idleMs ?? 45_000
  let rev = options.since

  const deliver = async (revision: Revision): Promise<void> => {
    if (rev !== undefined && revision.rev <= rev) return
    await options.onChange(revision)
    rev = revision.rev
  }
  const reset = async (at: number): Promise<void> => {
    await options.onReset?.(at)
    rev = at
  }
  const handle = async (event: ServerEvent): Promise<void> => {
    if (event.type === 'change') return deliver(JSON.parse(event.data) as Revision)
    if (event.type !== 'hello' && event.type !== 'reset') return
    const at = revOf(event)
    if (event.type === 'reset') {
      await reset(at)
    } else {
      await options.onHello?.(at)
      rev ??= at
    }
  }

  /** Reads the stream, reconnecting, until it stops; `relay` gets each event as it arrives. */
  async function run (relay?: (event: ServerEvent) => void): Promise<void> {
    let attempt = 0
    while (!stop.signal.aborted) {
      const current = linked(stop.signal)
      let idle: ReturnType<typeof setTimeout> | undefined
      const touch = (): void => {
        clearTimeout(idle)
        idle = setTimeout(() => current.abort(new Error(`no event or heartbeat for ${idleMs} ms`)), idleMs)
      }
      let willRetry = true
      let wait = 0
      try {
        touch()
        const headers = await connection.headers({ accept: 'text/event-stream', ...(rev !== undefined && { 'last-event-id': String(rev) }) })
        const response = await connection.fetch(`${connection.root}/events/`, { headers, signal: current.signal })
        if (response.status !== 200 || response.body === null || !/^text\/event-stream/i.test(response.headers.get('content-type') ?? '')) {
          const { status } = response
          // Worth another try: the server or a proxy failing, a limit, a token that a refresh may fix.
          willRetry = status >= 500 || status === 408 || status === 429 || (status === 401 && typeof options.token === 'function')
          wait = Number(response.headers.get('retry-after')) * 1000 || 0
          throw await answerError(response, 'GET events/')
        }
        await readEvents(response.body, touch, async (event) => {
          relay?.(event)
          // A slow callback is not a silent server: the clock starts again after it.
          clearTimeout(idle)
          await handle(event)
          if (event.type === 'hello') attempt = 0
          touch()
        })
        // The server ended the stream (the token expired, it shuts down, this client was slow).
      } catch (error) {
        if (stop.signal.aborted) break
        const reported = current.signal.aborted ? current.signal.reason as unknown : error
        options.onError?.(reported, willRetry)
        if (!willRetry) break
      } finally {
        clearTimeout(idle)
        current.abort()
      }
      const backoff = Math.min(maxRetryMs, retryMs * 2 ** attempt++)
      await sleep(Math.max(wait, backoff / 2 + Math.random() * backoff / 2), stop.signal)
    }
  }

  /**
   * Brings `rev` up to `upTo` from the change feed: the revisions a tab missed before it began
   * to follow, or while a callback of its failed. When they are gone from the log, a reset.
   */
  const catchUp = async (upTo: number): Promise<void> => {
    for (;;) {
      if (rev === undefined || rev >= upTo) return
      const headers = await connection.headers({ accept: 'application/json' })
      const response = await connection.fetch(`${connection.root}/changes/?since=${rev}&limit=1000`, { headers, signal: stop.signal })
      if (response.status === 410) {
        await reset(upTo)
        return
      }
      if (response.status !== 200) throw await answerError(response, 'GET changes/')
      const page = await response.json() as { results: Revision[] }
      if (page.results.length === 0) return
      for (const revision of page.results) await deliver(revision)
    }
  }

  /**
   * A tab that follows another's stream: each event in order, after what it missed. A failure
   * (a callback that threw, a read of the change feed) is tried again after the same waits as a
   * reconnection; the events behind it wait their turn.
   */
  const follow = async (event: ServerEvent): Promise<void> => {
    for (let attempt = 0; !stop.signal.aborted; attempt++) {
      try {
        if (event.type === 'hello') {
          await handle(event)
          await catchUp(revOf(event))
          return
        }
        // Nothing to follow from yet: the hello that answers this tab's ask is on its way.
        if (rev === undefined) return
        if (event.type === 'change') await catchUp(revOf(event) - 1)
        await handle(event)
        return
      } catch (error) {
        if (stop.signal.aborted) return
        options.onError?.(error, true)
        const backoff = Math.min(maxRetryMs, retryMs * 2 ** attempt)
        await sleep(backoff / 2 + Math.random() * backoff / 2, stop.signal)
      }
    }
  }

  const sharing = tabSharing(options.shareAs)
  const done = sharing === undefined
    ? run()
    : sharing(stop.signal, run, follow)
  return {
    get rev () { return rev },
    close: () => stop.abort(),
    done
  }
}

// What tab sharing uses of the browser, said here so that the client's types need neither the
// DOM library nor Node's.
interface TabChannel {
  postMessage: (message: TabMessage) => void
  onmessage: ((event: { data: TabMessage }) => void) | null
  close: () => void
}
interface TabLocks {
  request: (name: string, options: { signal: AbortSignal }, callback: () => Promise<void>) => Promise<unknown>
}
/** An event of the stream, or a new tab asking where the stream is. */
type TabMessage = { event: ServerEvent } | { ask: true }

/**
 * Runs a subscription shared under `name` with the other tabs: while another tab holds the
 * lock, this one follows the events it passes on; once this one holds it, it reads the stream
 * itself (`run`) and passes each event on. Undefined where the browser cannot share.
 */
function tabSharing (name: string | undefined): ((
  stop: AbortSignal, run: (relay: (event: ServerEvent) => void) => Promise<void>, follow: (event: ServerEvent) => Promise<void>
) => Promise<void>) | undefined {
  const browser = globalThis as unknown as { BroadcastChannel?: new (name: string) => TabChannel, navigator?: { locks?: TabLocks } }
  const Channel = browser.BroadcastChannel
  const locks = browser.navigator?.locks
  if (name === undefined || Channel === undefined || locks === undefined) return undefined
  return async (stop, run, follow) => {
    const channel = new Channel(`preferences-events ${name}`)
    let leading = false
    // The last revision the leading tab has seen: a tab that asks is told it as a hello.
    let seen: number | undefined
    let following = Promise.resolve()
    channel.onmessage = ({ data }) => {
      if ('ask' in data) {
        if (leading && seen !== undefined) channel.postMessage({ event: { type: 'hello', data: JSON.stringify({ rev: seen }) } })
      } else if (!leading) {
        const { event } = data
        following = following.then(async () => follow(event))
      }
    }
    channel.postMessage({ ask: true })
    let shared = true
    try {
      await locks.request(`preferences-events ${name}`, { signal: stop }, async () => {
        leading = true
        await following
        await run((event) => {
          if (event.type === 'hello' || event.type === 'change' || event.type === 'reset') seen = revOf(event)
          channel.postMessage({ event })
        })
      })
    } catch {
      shared = false
    } finally {
      channel.close()
    }
    // Closed while waiting: the request was aborted. Refused (a page whose origin may not take
    // locks): this tab reads the stream on its own.
    if (!shared && !stop.aborted) await run(() => {})
  }
}

export interface LiveOptions extends StreamOptions {
  /**
   * After the copy changed: the keys whose entries changed (set, replaced or removed), or
   * `undefined` when it was read whole (the first read, and after a reset).
   */
  onUpdate?: (keys: string[] | undefined) => void
  /** A reset came (see SubscribeOptions.onReset); the copy is read again right after. */
  onReset?: (rev: number) => void
  /** Each connection is up (after the first, the copy has been read): for showing that it is live. */
  onHello?: (rev: number) => void
}

/** A local copy of the effective preferences, kept current. */
export interface LivePreferences {
  /** The revision the copy reflects. */
  readonly rev: number
  /** The effective view's entries by key. Read it, do not change it. */
  readonly preferences: Readonly<Record<string, EffectiveEntry>>
  /** Resolves once the copy has been read; rejects if the subscription stops before that. */
  readonly ready: Promise<void>
  close: () => void
  /** As Subscription.done. */
  readonly done: Promise<void>
}

/**
 * Keeps a copy of the user's effective preferences current: reads GET .../effective/, then
 * applies each change from the event stream. A `set` becomes the user's value (unless a scope
 * locks the key); after a `delete` the key is read again, since a default may now show through;
 * a reset reads everything again. Scope defaults changed by an admin add no revision to the user:
 * they show at the next whole read.
 */
export function live (options: LiveOptions): LivePreferences {
  const connection = connect(options)
  const stop = linked(options.signal)
  let copy: EffectiveView | undefined
  // Keys read again after a delete, at the revision the read saw: older changes no longer apply.
  const readAt = new Map<string, number>()
  let lastError: unknown
  let resolveReady: () => void = () => {}
  let rejectReady: (error: unknown) => void = () => {}
  const ready = new Promise<void>((resolve, reject) => { resolveReady = resolve; rejectReady = reject })
  ready.catch(() => {})

  const read = async (keys?: string[]): Promise<EffectiveView> => {
    const query = keys === undefined ? '' : `?${keys.map((key) => `key=${encodeURIComponent(key)}`).join('&')}`
    const response = await connection.fetch(`${connection.root}/effective/${query}`, {
      headers: await connection.headers({ accept: 'application/json' }),
      signal: stop.signal
    })
    if (response.status !== 200) throw await answerError(response, 'GET effective/')
    return await response.json() as EffectiveView
  }
  const readAll = async (): Promise<void> => {
    copy = await read()
    readAt.clear()
    options.onUpdate?.(undefined)
    resolveReady()
  }

  const apply = async (revision: Revision): Promise<void> => {
    if (copy === undefined || revision.rev <= copy.rev) return
    const preferences = { ...copy.preferences }
    const changed = new Set<string>()
    const again: string[] = []
    for (const change of revision.changes) {
      if ((readAt.get(change.key) ?? -1) >= revision.rev) continue
      if (change.op === 'delete') again.push(change.key)
      else if (preferences[change.key]?.locked !== true) {
        preferences[change.key] = { value: change.value, source: 'user', locked: false }
        changed.add(change.key)
      }
    }
    if (again.length > 0) {
      const view = await read(again)
      for (const key of again) {
        const entry = view.preferences[key]
        if (entry === undefined) delete preferences[key]
        else preferences[key] = entry
        readAt.set(key, view.rev)
        changed.add(key)
      }
    }
    copy = { rev: revision.rev, preferences }
    if (changed.size > 0) options.onUpdate?.([...changed])
  }

  const subscription = subscribe({
    ...options,
    signal: stop.signal,
    onError: (error, willRetry) => {
      lastError = error
      options.onError?.(error, willRetry)
    },
    // The first hello: read the copy; the stream then replays what came after its revision.
    onHello: async (rev) => {
      if (copy === undefined) await readAll()
      options.onHello?.(rev)
    },
    onChange: apply,
    onReset: async (rev) => {
      options.onReset?.(rev)
      await readAll()
    }
  })
  const done = subscription.done.then(() => {
    rejectReady(lastError ?? new Error('closed before the preferences were read'))
  })

  return {
    get rev () { return copy?.rev ?? 0 },
    get preferences () { return copy?.preferences ?? {} },
    ready,
    close: () => stop.abort(),
    done
  }
}
