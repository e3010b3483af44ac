import t from 'tap'
import { timestamptzToIso } from '../db/pg-types.js'

t.test('timestamptz text in UTC becomes the ISO string Date#toISOString writes', async (t) => {
  const cases: Array<[string, string]> = [
    ['2026-11-28 16:45:00+00', '2026-11-28T16:45:00.000Z'],
    ['2026-11-28 16:45:00.3+00', '2026-11-28T16:45:00.300Z'],
    ['2026-11-28 16:45:00.35+00', '2026-11-28T16:45:00.350Z'],
    ['2026-11-28 16:45:00.357+00', '2026-11-28T16:45:00.357Z'],
    ['2026-11-28 16:45:00.357999+00', '2026-11-28T16:45:00.357Z'],
    ['0001-01-01 00:00:00+00', '0001-01-01T00:00:00.000Z']
  ]
  for (const [text, iso] of cases) t.equal(timestamptzToIso(text), iso, text)
})

t.test('other zones and forms go through pg\'s parser and come out in UTC', async (t) => {
  t.equal(timestamptzToIso('2026-11-28 17:45:00.35+01'), '2026-11-28T16:45:00.350Z')
  t.equal(timestamptzToIso('2026-11-28 11:15:00-05:30'), '2026-11-28T16:45:00.000Z')
  t.equal(timestamptzToIso('infinity'), 'infinity', 'not a date: the text as PostgreSQL sent it')
})
