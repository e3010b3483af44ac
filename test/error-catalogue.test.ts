import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ERROR_CATALOGUE, ERROR_CODES } from '../schemas/error-catalogue.js'
import * as errors from '../schemas/errors.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

t.test('the README\'s error table lists exactly the catalogue, with its statuses', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const rows = [...readme.matchAll(/^\| `(PREFERENCE_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])])
  t.same(Object.fromEntries(rows), ERROR_CODES)
  t.equal(rows.length, Object.keys(ERROR_CATALOGUE).length, 'one row per code')
})

t.test('every catalogue code has its error class, with the catalogue\'s status', async (t) => {
  const made = Object.values(errors)
    .map((ErrorClass) => new (ErrorClass as new (...args: unknown[]) => { code: string, statusCode: number })('x', 1, 2))
    .filter((error) => error.code in ERROR_CATALOGUE)
  t.same(new Set(made.map((e) => e.code)), new Set(Object.keys(ERROR_CATALOGUE)))
  for (const error of made) t.equal(error.statusCode, ERROR_CODES[error.code as keyof typeof ERROR_CODES], error.code)
})
