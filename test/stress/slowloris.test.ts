import { connect } from 'node:net'
import t from 'tap'
import { buildApp, SERVER_LIMITS } from '../../server/app.js'
import { freshDatabaseUrl, PREFIX, SECRET, token } from '../helper.js'

// Slow clients against the standalone server's real limits (test/limits.test.ts does the
// same with small limits): headers dribbled in for longer than headersTimeout (10 s), and a
// body dribbled in for longer than requestTimeout (30 s), are cut off near those deadlines.

t.test('slowloris against the default limits', async (t) => {
  const app = await buildApp({ jwtSecret: SECRET, databaseUrl: await freshDatabaseUrl(t), logger: false })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }

  /** Writes one chunk per second until the server closes the socket (at most `max` chunks). */
  const dribble = (head: string, chunk: (i: number) => string, max: number) => new Promise<{ ms: number, sent: number, text: string }>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    const started = Date.now()
    let sent = 0
    let text = ''
    let timer: NodeJS.Timeout | undefined
    socket.setEncoding('latin1').on('data', (d: string) => { text += d })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve({ ms: Date.now() - started, sent, text }) })
    socket.write(head)
    const next = () => {
      if (sent >= max) { socket.destroy(); return }
      socket.write(chunk(sent++))
      timer = setTimeout(next, 1_000)
    }
    next()
  })

  const body = JSON.stringify({ key: 'slow', value: 'z'.repeat(100) })
  const [headers, bodyResult] = await Promise.all([
    dribble(`GET ${PREFIX}/user/1/preference/ HTTP/1.1\r\n`, (i) => `X-Slow-${i}: ${i}\r\n`, 60),
    dribble(`POST ${PREFIX}/user/1/preference/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token(1)}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      (i) => body[i], body.length)
  ])
  const slack = SERVER_LIMITS.connectionsCheckingInterval + 1_500
  t.match(headers.text, /^HTTP\/1\.1 408 /, 'slow headers: 408')
  t.ok(headers.ms >= SERVER_LIMITS.headersTimeout - 100 && headers.ms < SERVER_LIMITS.headersTimeout + slack,
    `slow headers cut off after ${headers.ms} ms (headersTimeout ${SERVER_LIMITS.headersTimeout}), ${headers.sent} header lines in`)
  t.ok(bodyResult.ms >= SERVER_LIMITS.requestTimeout - 100 && bodyResult.ms < SERVER_LIMITS.requestTimeout + slack,
    `slow body cut off after ${bodyResult.ms} ms (requestTimeout ${SERVER_LIMITS.requestTimeout}), ${bodyResult.sent} of ${body.length} bytes in`)
  t.comment(`slowloris: headers cut off at ${headers.ms} ms, body at ${bodyResult.ms} ms`)
})
