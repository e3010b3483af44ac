import { randomBytes } from 'node:crypto'
import { API_PREFIX, buildApp, SETTINGS_PREFIX } from './app.js'
import { loadConfig } from './config.js'
import { signTokenWith } from './tokens.js'

// Which variable a start-up failure points to, by its message (a REDIS_URL message names itself).
const START_HINTS: Array<[RegExp, string]> = [
  [/keys\[|unknownKeys/, ' (check KEYS_FILE)'],
  [/redisPrefix/, ' (check REDIS_PREFIX)'],
  [/REDIS_URL/, '']
]

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`)
    process.exit(1)
  }

  const generated = config.jwtSecret === undefined
  const jwtSecret = config.jwtSecret ?? randomBytes(32).toString('base64url')
  let app: Awaited<ReturnType<typeof buildApp>>
  try {
    app = await buildApp({
      jwtSecret,
      databaseUrl: config.databaseUrl,
      logger: { level: config.logLevel },
      ...(config.redisUrl !== undefined && { redisUrl: config.redisUrl }),
      plugin: {
        ...(config.rateLimitPerMinute !== undefined && { rateLimit: { max: config.rateLimitPerMinute, timeWindow: 60_000 } }),
        ...(config.keys !== undefined && { keys: config.keys }),
        ...(config.maxPreferencesPerUser !== undefined && { maxPreferencesPerUser: config.maxPreferencesPerUser }),
        ...(config.redisPrefix !== undefined && { redisPrefix: config.redisPrefix }),
        unknownKeys: config.unknownKeys
      }
    })
  } catch (error) {
    // Configuration mistakes (a bad DATABASE_URL or KEYS_FILE, an unreachable database) end here.
    const message = (error as Error).message
    const hint = START_HINTS.find(([pattern]) => pattern.test(message))?.[1] ?? ' (check DATABASE_URL)'
    process.stderr.write(`Cannot start: ${message}${hint}\n`)
    process.exit(1)
  }

  let closing = false
  const shutdown = (signal: string) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    closing = true
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    setTimeout(() => {
      app.log.error('shutdown took more than 10 s: exiting')
      process.exit(1)
    }, 10_000).unref()
    app.close().then(() => process.exit(0), (error: unknown) => {
      app.log.error({ err: error }, 'error while shutting down')
      process.exit(1)
    })
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)

  let address: string
  try {
    address = await app.listen({ host: config.host, port: config.port })
  } catch (error) {
    process.stderr.write(`Cannot listen on ${config.host}:${config.port}: ${(error as Error).message} (check HOST and PORT)\n`)
    await app.close()
    process.exit(1)
  }

  if (generated) {
    app.log.warn('JWT_SECRET is not set: using a random secret for this run only; tokens will not survive a restart')
    const token = signTokenWith(app.jwt, { sub: 1 })
    const base = `${address}${API_PREFIX}`
    process.stdout.write([
      '',
      'A token for user 1, valid for this run (24 h):',
      `  ${token}`,
      '',
      // A PUT by key succeeds on every start: 201 the first time, 200 once "theme" exists.
      'Try it (sets the preference "theme": 201 Created the first time, 200 OK after that):',
      `  curl -i -X PUT ${base}/user/me/preference/by-key/theme/ -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"value":{"mode":"dark"}}'`,
      '',
      `API docs: ${address}/documentation`,
      '',
      // In the fragment: a browser never sends it to the server, so it stays out of logs.
      'The settings page, signed in as user 1:',
      `  ${address}${SETTINGS_PREFIX}/#token=${token}`,
      ''
    ].join('\n') + '\n')
  } else {
    process.stdout.write(`\nThe settings page: ${address}${SETTINGS_PREFIX}/#token=<a token> (make one with: npm run token -- --sub <user id>)\n\n`)
  }
}

await main()
