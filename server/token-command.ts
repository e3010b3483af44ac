import { parseArgs } from 'node:util'
import { parsePositiveId } from '../lib/positive-id.js'
import { signToken } from './tokens.js'

const usage = `Usage: npm run token -- --sub <user id> [--admin] [--group <name>]... [--secret <s>]
                     [--expires-in <seconds>] [--issuer <iss>] [--audience <aud>]
Prints an HS256 token signed with --secret or, by default, $JWT_SECRET.`

function fail (message: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

let values
try {
  ({ values } = parseArgs({
    options: {
      sub: { type: 'string', default: '1' },
      admin: { type: 'boolean', default: false },
      group: { type: 'string', multiple: true, default: [] },
      secret: { type: 'string' },
      'expires-in': { type: 'string', default: '86400' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  }))
} catch (error) {
  fail((error as Error).message)
}
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
const sub = parsePositiveId(values.sub)
if (sub === null) fail(`--sub must be a positive integer, got "${values.sub}"`)
const secret = values.secret ?? process.env.JWT_SECRET
if (secret === undefined || secret === '') fail('No secret: pass --secret or set JWT_SECRET (the one the server uses)')
const expiresInSeconds = Number(values['expires-in'])
if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1) fail('--expires-in must be a positive number of seconds')

process.stdout.write(await signToken(secret, {
  sub, admin: values.admin, groups: values.group, expiresInSeconds, issuer: values.issuer, audience: values.audience
}) + '\n')
