import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import { ChangesExpiredError, StreamsUnavailableError, TooManyStreamsError } from '../schemas/errors.js'
import { revisionJson } from '../schemas/preference-json.js'
import { UserParamsSchema } from '../schemas/preference.js'
import { authErrorResponses, error } from '../schemas/responses.js'
import type { StreamSlot, StreamSlots } from '../store/stream-slots.js'
import { forBothSlashes } from './shared.js'

export interface EventRouteOptions {
  heartbeatSeconds: number
  maxStreamsPerUser: number
  /** Where the open streams are counted: this process, or a shared Redis. */
  streamSlots: StreamSlots
}

/** Past this much unsent output a client is too slow: its stream ends, and it resumes later. */
const MAX_BUFFERED_BYTES = 1024 * 1024
const PAGE = 100
// setTimeout's longest delay; a later token expiry is checked again then.
const MAX_TIMER_MS = 2_147_483_647

const EventsQuerySchema = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Replay the revisions after this one (as Last-Event-ID)' })),
  access_token: Type.Optional(Type.String({ description: 'The token, for EventSource, which cannot send headers (this route only; never logged)' }))
})
const EventsHeadersSchema = Type.Object({
  'last-event-id': Type.Optional(Type.String({ description: 'The last revision received: replay what came after it' }))
})

/**
 * GET /user/{user_id}/preference/events/: the user's revisions as server-sent events. First
 * `hello` with the current revision; then each revision (`id` its number, `event: change`).
 * With Last-Event-ID (or ?since) the revisions after it are replayed first; when they are
 * no longer all kept, or it is beyond the current revision, `reset` tells the client to list
 * again. The changes are read from the change log, whatever told the stream about them.
 */
const eventRoutes: FastifyPluginAsyncTypebox<EventRouteOptions> = async (fastify, options) => {
  const store = fastify.preferencesStore
  const closers = new Set<() => void>()
  // Open streams would hold the server's close forever: end them first.
  fastify.addHook('preClose', async () => { for (const close of [...closers]) close() })
  // Their slots are given back before the host closes its Redis client.
  fastify.addHook('onClose', async () => { await options.streamSlots.settle() })

  forBothSlashes((slash, doc) => {
    fastify.get(`/user/:user_id/preference/events${slash}`, {
      config: { preferencesQueryToken: true },
      schema: {
        ...doc,
        summary: 'The user\'s changes, live (server-sent events)',
        description: 'text/event-stream: `hello` {rev}, then `change` events (id: the revision; data: the ' +
          'revision as the change feed gives it), `reset` {rev} when the client must list again, and a ' +
          `comment line every ${options.heartbeatSeconds} s. Resumes after Last-Event-ID (or ?since). The ` +
          'token may come as ?access_token= on this route only. The stream ends when the token expires.',
        params: UserParamsSchema,
        querystring: EventsQuerySchema,
        headers: EventsHeadersSchema,
        response: {
          // The stream is text/event-stream; a refusal before it starts is JSON, like every error.
          200: { description: 'The event stream', content: { 'text/event-stream': { schema: Type.String() } } },
          ...authErrorResponses,
          429: error(`The user has ${options.maxStreamsPerUser} streams open already (PREFERENCE_TOO_MANY_STREAMS), or the rate limit (PREFERENCE_RATE_LIMITED)`),
          503: error('The database is unreachable (PREFERENCE_DATABASE_UNAVAILABLE), or, with a shared Redis, the open streams cannot be counted (PREFERENCE_STREAMS_UNAVAILABLE); Retry-After says when to retry')
        }
      }
    }, async (request, reply) => {
      const userId = request.preferencesUserId
      const header = request.headers['last-event-id']
      const since = typeof header === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(header.trim()) ? Number(header.trim()) : request.query.since
      let acquired: StreamSlot | null
      try {
        acquired = await options.streamSlots.acquire(userId, options.maxStreamsPerUser)
      } catch (cause) {
        // Without the count the limit cannot hold: no stream, rather than one nobody counts.
        throw Object.assign(new StreamsUnavailableError(), { cause })
      }
      if (acquired === null) throw new TooManyStreamsError(options.maxStreamsPerUser)
      const slot = acquired
      let first
      try {
        first = await store.revision(userId)
      } catch (error) {
        slot.release()
        throw error
      }

      reply.hijack()
      const raw = reply.raw
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no'
      })

      // A property, not a variable: it changes while the loops below await.
      const state = { closed: false }
      let lastSent = first.rev
      let draining = false
      let again = false
      const write = (text: string): void => {
        if (state.closed) return
        raw.write(text)
        if (raw.writableLength > MAX_BUFFERED_BYTES) close()
      }
      const reset = (rev: number): void => {
        write(`event: reset\ndata: {"rev":${rev}}\n\n`)
        lastSent = rev
      }

      /** Sends every kept revision after the last one sent; runs once at a time. */
      const drain = async (): Promise<void> => {
        if (draining) {
          again = true
          return
        }
        draining = true
        try {
          do {
            again = false
            let more = true
            while (more && !state.closed) {
              let page
              try {
                page = await store.changes(userId, lastSent, PAGE)
              } catch (error) {
                if (!(error instanceof ChangesExpiredError)) throw error
                reset((await store.revision(userId)).rev)
                break
              }
              for (const revision of page.results) {
                // An erasure took the history with it: the client starts over.
                if (revision.erased) reset(revision.rev)
                else write(`id: ${revision.rev}\nevent: change\ndata: ${revisionJson(revision)}\n\n`)
                lastSent = revision.rev
              }
              more = page.more
            }
          } while (again && !state.closed)
        } catch (error) {
          request.log.warn({ err: error }, 'preferences: an event stream failed, closing it')
          close()
        } finally {
          draining = false
        }
      }

      const unsubscribe = store.bus.subscribe(userId, () => { drain().catch(() => {}) })
      const heartbeat = setInterval(() => {
        write(': heartbeat\n\n')
        slot.refresh()
      }, options.heartbeatSeconds * 1000)
      let expiry: NodeJS.Timeout | undefined
      const exp = request.preferencesClaims?.exp
      const endAtExpiry = (): void => {
        const left = (exp as number) * 1000 - Date.now()
        expiry = left > MAX_TIMER_MS ? setTimeout(endAtExpiry, MAX_TIMER_MS) : setTimeout(close, Math.max(0, left))
      }
      if (typeof exp === 'number' && Number.isFinite(exp)) endAtExpiry()

      function close (): void {
        if (state.closed) return
        state.closed = true
        unsubscribe()
        clearInterval(heartbeat)
        clearTimeout(expiry)
        closers.delete(close)
        slot.release()
        raw.end()
      }
      closers.add(close)
      raw.on('close', close)
      // The client may have gone while the slot and the revision were awaited.
      if (raw.destroyed || raw.socket?.destroyed === true) close()

      write(`event: hello\ndata: {"rev":${first.rev}}\n\n`)
      if (since !== undefined) {
        if (since > first.rev || since < first.oldest - 1) reset(first.rev)
        else lastSent = since
      }
      await drain()
    })
  })
}

export default eventRoutes
