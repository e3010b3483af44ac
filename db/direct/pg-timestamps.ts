import pg from 'pg'

// How our pool reads PostgreSQL's text output. By default pg turns every timestamptz into a
// Date, which the row mapper turns straight back into an ISO string; a 100-row page did that
// 200 times, about a sixth of its CPU time. Read the text directly instead.

const TIMESTAMPTZ = 1184 // pg_type oid
const pgDate = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date | number

// `2026-11-28 16:45:00.35+00`: DateStyle ISO in UTC, which each connection sets. Anything
// else (another zone or DateStyle, BC dates, years past 9999, infinity) goes to pg's parser.
const UTC_ISO = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/

/** A timestamptz's text as Date.prototype.toISOString would write it (millisecond precision). */
export function timestamptzToIso (text: string): string {
  const match = UTC_ISO.exec(text)
  if (match !== null) return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`
  const parsed = pgDate(text)
  return parsed instanceof Date && Number.isFinite(parsed.getTime()) ? parsed.toISOString() : text
}

export const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ && format !== 'binary' ? timestamptzToIso : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser']
}

/**
 * The connection string with the session's time zone set to UTC at connection start (the
 * startup packet's options), so that timestamptz text takes the fast path above from the
 * first query on, with no query of its own.
 */
export function inUtc (connectionString: string): string {
  const url = new URL(connectionString)
  const options = url.searchParams.get('options')
  url.searchParams.set('options', options === null || options.trim() === '' ? '-c TimeZone=UTC' : `${options} -c TimeZone=UTC`)
  return url.toString()
}
