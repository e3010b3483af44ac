import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { openDatabase } from '../../db/connect.js'
import { adminToken, BACKEND, freshDatabaseUrl, SECRET, token } from '../helper.js'
import { childEnv } from '../child-env.js'

// Crash safety (SQLite with WAL and synchronous=FULL; PostgreSQL): the real server under
// concurrent writes is killed with SIGKILL mid-load, restarted on the same database, and
// every write that was answered 2xx must be there as answered, every write answered 4xx must
// have left no trace. Writes without an answer (in flight at the kill) may have happened or
// not. Five rounds on one database; each round also re-checks everything acknowledged in the
// rounds before. 32 concurrent writers, so that on SQLite the kill lands in the middle of group
// commits (batches of writes sharing one COMMIT): none of a batch may be answered before its
// COMMIT. The change log is checked too: every acknowledged revision is in it with the change
// it answered, and each user's revisions run without a gap up to the user's current one.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 5)
const WORKERS = Number(process.env.CRASH_WORKERS ?? 32)
const START_TIMEOUT = 30_000
const REQUEST_TIMEOUT = 5_000
/** The server's changeLog.maxRevisions (the default): older revisions are pruned. */
const MAX_REVISIONS = 1000

interface Server { child: ChildProcessWithoutNullStreams, base: string, exited: Promise<void> }

async function startServer (t: Test, database: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: childEnv({ PORT: '0', DATABASE_URL: database, JWT_SECRET: SECRET, LOG_LEVEL: 'info' }),
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  let head = ''
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000) })
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within ${START_TIMEOUT} ms\n${head}\n${stderr}`)), START_TIMEOUT)
    const onData = (chunk: string) => {
      head = (head + chunk).slice(-8000)
      const match = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(head)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1])
      }
    }
    child.stdout.setEncoding('utf8').on('data', onData)
    child.once('close', () => { clearTimeout(timer); reject(new Error(`exited while starting\n${head}\n${stderr}`)) })
  })
  // Keep draining the request log so the pipe never fills.
  child.stdout.removeAllListeners('data').on('data', () => {})
  return { child, base, exited }
}

interface Answer {
  status: number
  body: any
  /** Preference-Revision, on a write's answer. */
  rev: number | undefined
}

/** One request; null when no answer came (the server died first). */
async function call (base: string, method: string, path: string, jwt: string, body?: unknown): Promise<Answer | null> {
  try {
    const res = await fetch(`${base}/api/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${jwt}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT)
    })
    const status = res.status
    const text = await res.text().catch(() => '')
    let parsed: unknown = null
    try { parsed = text === '' ? null : JSON.parse(text) } catch { parsed = text }
    const rev = res.headers.get('preference-revision')
    return { status, body: parsed, rev: rev === null ? undefined : Number(rev) }
  } catch {
    return null
  }
}

/** What the database must hold for one preference. */
interface Known {
  id: number
  user: number
  key: string
  /** The value (JSON text) of the last acknowledged write, or null once a delete was acknowledged. */
  value: string | null
  /** A write sent after that, with no answer: it may or may not have happened. */
  pending?: { value: string | null }
}

/** An acknowledged write, as the change log must hold it. */
interface AckedRevision {
  user: number
  rev: number
  op: 'set' | 'delete'
  id: number
  key?: string
  /** The value set (JSON text). */
  value?: string
}

class Model {
  known = new Map<number, Known>()
  acked: AckedRevision[] = []
  /** Creates that got no answer: key -> value. */
  maybe = new Map<string, { user: number, value: string }>()
  stats = {
    ackedCreates: 0, ackedUpdates: 0, ackedDeletes: 0, rejected: 0, unanswered: 0, rowsChecked: 0, writesVerified: 0, revisionsChecked: 0
  }

  ack (answer: Answer, revision: Omit<AckedRevision, 'rev'>): void {
    if (answer.rev === undefined || !Number.isSafeInteger(answer.rev)) throw new Error(`no Preference-Revision on ${JSON.stringify(revision)}`)
    this.acked.push({ ...revision, rev: answer.rev })
  }
}

/** A small deterministic generator, so that a round can be told apart from another. */
function lcg (seed: number): () => number {
  let state = seed >>> 0
  return () => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state / 2 ** 32 }
}

async function worker (base: string, model: Model, round: number, w: number, stop: () => boolean): Promise<void> {
  const user = w + 1
  const jwt = token(user)
  const random = lcg(round * 1000 + w)
  const mine = () => [...model.known.values()].filter((k) => k.user === user && k.value !== null && k.pending === undefined)
  for (let n = 0; n < 10_000 && !stop(); n++) {
    const roll = random()
    const existing = mine()
    if (roll < 0.45 || existing.length === 0) {
      const key = `r${round}-w${w}-n${n}`
      const value = JSON.stringify({ round, w, n, pad: 'p'.repeat(Math.floor(random() * 400)) })
      model.maybe.set(key, { user, value })
      const res = await call(base, 'POST', `/user/${user}/preference/`, jwt, { key, value: JSON.parse(value) })
      if (res === null) { model.stats.unanswered++; return }
      model.maybe.delete(key)
      if (res.status !== 201) throw new Error(`create ${key}: ${res.status} ${JSON.stringify(res.body)}`)
      model.known.set(res.body.id, { id: res.body.id, user, key, value })
      model.ack(res, { user, op: 'set', id: res.body.id, key, value })
      model.stats.ackedCreates++
    } else if (roll < 0.8) {
      const target = existing[Math.floor(random() * existing.length)]
      const value = JSON.stringify({ round, w, n, updated: true })
      target.pending = { value }
      const res = await call(base, 'PATCH', `/user/${user}/preference/${target.id}/`, jwt, { value: JSON.parse(value) })
      if (res === null) { model.stats.unanswered++; return }
      target.pending = undefined
      if (res.status !== 200) throw new Error(`patch ${target.id}: ${res.status} ${JSON.stringify(res.body)}`)
      target.value = value
      model.ack(res, { user, op: 'set', id: target.id, key: target.key, value })
      model.stats.ackedUpdates++
    } else if (roll < 0.9) {
      const target = existing[Math.floor(random() * existing.length)]
      target.pending = { value: null }
      const res = await call(base, 'DELETE', `/user/${user}/preference/${target.id}/`, jwt)
      if (res === null) { model.stats.unanswered++; return }
      target.pending = undefined
      if (res.status !== 204) throw new Error(`delete ${target.id}: ${res.status}`)
      target.value = null
      model.ack(res, { user, op: 'delete', id: target.id, key: target.key })
      model.stats.ackedDeletes++
    } else {
      // Writes that must be refused, each carrying a marker that must never be stored.
      const marker = { rejected: true, round, w, n }
      const target = existing[Math.floor(random() * existing.length)]
      const attempts: Array<[string, string, unknown, number]> = [
        ['POST', `/user/${user}/preference/`, { key: target.key, value: marker }, 409], // duplicate key
        ['POST', `/user/${user}/preference/`, { key: 'bad\u0000key', value: marker }, 400], // control character
        ['PATCH', `/user/${user}/preference/${target.id}/`, { value: { ...marker, big: 'x'.repeat(70_000) } }, 413], // too large
        ['PATCH', `/user/${user}/preference/${target.id}/`, { key: 5, value: marker }, 400], // key not a string
        ['POST', `/user/${user === 1 ? 2 : 1}/preference/`, { key: `intrude-${n}`, value: marker }, 403] // someone else
      ]
      const [method, path, body, expected] = attempts[Math.floor(random() * attempts.length)]
      const res = await call(base, method, path, jwt, body)
      if (res === null) { model.stats.unanswered++; return }
      if (res.status !== expected) throw new Error(`${method} ${path}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body)}`)
      model.stats.rejected++
    }
  }
}

/** Every preference of users 1..WORKERS+1 through the API, as an admin, page by page. */
async function readAll (base: string): Promise<Array<{ id: number, user_id: number, key: string, value: unknown }>> {
  const all = []
  for (let user = 1; user <= WORKERS + 1; user++) {
    for (let offset = 0; offset < 100_000; offset += 1000) {
      const res = await call(base, 'GET', `/user/${user}/preference/?limit=1000&offset=${offset}`, adminToken())
      if (res === null || res.status !== 200) throw new Error(`list of user ${user}: ${res?.status}`)
      all.push(...res.body.results)
      if (res.body.next === null) break
    }
  }
  return all
}

/** Compares the restarted server's data with the model, then folds the undecided writes in. */
function verify (t: Test, model: Model, rows: Array<{ id: number, user_id: number, key: string, value: unknown }>, round: number): void {
  const byId = new Map(rows.map((r) => [r.id, r]))
  let failures = 0
  const fail = (message: string) => { if (failures++ < 20) t.fail(`after crash ${round}: ${message}`) }
  for (const row of rows) {
    const text = JSON.stringify(row.value)
    if (text.includes('"rejected":true')) fail(`a refused write is stored: ${row.key} = ${text.slice(0, 200)}`)
    if (model.known.has(row.id)) continue
    const maybe = model.maybe.get(row.key)
    if (maybe !== undefined && maybe.user === row.user_id && maybe.value === text) {
      model.known.set(row.id, { id: row.id, user: row.user_id, key: row.key, value: text }) // an unanswered create that happened
      continue
    }
    fail(`a row nobody wrote: ${JSON.stringify(row).slice(0, 200)}`)
  }
  for (const known of model.known.values()) {
    const row = byId.get(known.id)
    const stored = row === undefined ? null : JSON.stringify(row.value)
    model.stats.rowsChecked++
    if (stored === known.value) {
      if (known.value !== null || known.pending === undefined) model.stats.writesVerified++
    } else if (known.pending !== undefined && stored === known.pending.value) {
      known.value = stored // the unanswered write happened
    } else {
      fail(`preference ${known.id} (${known.key}): stored ${String(stored).slice(0, 120)}, acknowledged ${String(known.value).slice(0, 120)}` +
        (known.pending !== undefined ? ` (or unanswered ${String(known.pending.value).slice(0, 80)})` : ''))
    }
    if (row !== undefined && row.key !== known.key) fail(`preference ${known.id}: key ${row.key}, acknowledged ${known.key}`)
    known.pending = undefined
  }
  for (const [id, known] of model.known) if (known.value === null) model.known.delete(id)
  model.maybe.clear()
  if (failures === 0) t.pass(`after crash ${round}: ${rows.length} rows, every acknowledged write present as answered, no refused write stored`)
}

interface LogRow { user_id: number | string, rev: number | string, changes: string }
interface Change { op: string, key: string, id: number, value?: unknown }

/**
 * The change log after a crash: every acknowledged revision is there, with the change that
 * was answered (unless pruned: only the last MAX_REVISIONS of a user are kept), no refused
 * write is in it, and each user's kept revisions run without a gap up to the user's current
 * revision. Read from the database itself.
 */
async function verifyLog (t: Test, model: Model, database: string, round: number): Promise<void> {
  const { db } = openDatabase(database, { groupCommit: false })
  let rows: LogRow[]
  let current: Map<number, number>
  try {
    rows = await db.selectFrom('preference_change').select(['user_id', 'rev', 'changes']).orderBy('user_id').orderBy('rev').execute()
    current = new Map((await db.selectFrom('user_revision').select(['user_id', 'rev']).execute()).map((r) => [Number(r.user_id), Number(r.rev)]))
  } finally {
    await db.destroy()
  }
  let failures = 0
  const fail = (message: string) => { if (failures++ < 20) t.fail(`change log after crash ${round}: ${message}`) }
  const byUser = new Map<number, Map<number, Change[]>>()
  for (const row of rows) {
    const user = Number(row.user_id)
    if (row.changes.includes('"rejected":true')) fail(`a refused write is logged: user ${user} rev ${row.rev}`)
    let log = byUser.get(user)
    if (log === undefined) byUser.set(user, log = new Map())
    log.set(Number(row.rev), JSON.parse(row.changes) as Change[])
  }
  for (const [user, rev] of current) {
    const revs = [...(byUser.get(user)?.keys() ?? [])]
    const oldest = Math.max(1, rev - MAX_REVISIONS + 1)
    const expected = Array.from({ length: rev - oldest + 1 }, (_, i) => oldest + i)
    if (JSON.stringify(revs) !== JSON.stringify(expected)) {
      fail(`user ${user} is at revision ${rev} but the log holds ${revs.length} revisions ${revs[0]}..${revs.at(-1)} (expected ${oldest}..${rev}, no gap)`)
    }
  }
  for (const user of byUser.keys()) if (!current.has(user)) fail(`user ${user} has a log but no revision`)
  const seen = new Set<string>()
  for (const acked of model.acked) {
    const at = `${acked.user}:${acked.rev}`
    if (seen.has(at)) fail(`revision ${at} was answered twice`)
    seen.add(at)
    const rev = current.get(acked.user) ?? 0
    if (acked.rev > rev) {
      fail(`user ${acked.user} is at revision ${rev}, but ${acked.rev} was answered`)
      continue
    }
    if (acked.rev <= rev - MAX_REVISIONS) continue // pruned
    model.stats.revisionsChecked++
    const changes = byUser.get(acked.user)?.get(acked.rev)
    const change = changes?.find((c) => c.id === acked.id && c.op === acked.op)
    if (change === undefined) {
      fail(`acknowledged revision ${at} (${acked.op} ${acked.key}) is not in the log: ${JSON.stringify(changes)?.slice(0, 200)}`)
    } else if (change.key !== acked.key || (acked.value !== undefined && JSON.stringify(change.value) !== acked.value)) {
      fail(`revision ${at} logs ${JSON.stringify(change).slice(0, 200)}, answered ${acked.op} ${acked.key} ${acked.value?.slice(0, 100)}`)
    }
  }
  if (failures === 0) {
    t.pass(`change log after crash ${round}: ${rows.length} revisions of ${current.size} users without a gap, ` +
      `the ${model.acked.length} acknowledged ones in it as answered (${model.stats.revisionsChecked} checks so far)`)
  }
}

t.test(`crash safety: ${ROUNDS} rounds of SIGKILL under concurrent writes (${BACKEND})`, async (t) => {
  let database: string
  if (BACKEND === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'prefs-crash-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    database = join(dir, 'prefs.sqlite')
  } else {
    database = await freshDatabaseUrl(t)
  }
  const model = new Model()
  const started = Date.now()

  for (let round = 1; round <= ROUNDS; round++) {
    const server = await startServer(t, database)
    if (round > 1) {
      verify(t, model, await readAll(server.base), round - 1)
      await verifyLog(t, model, database, round - 1)
    }
    const before = { ...model.stats }
    // Workers write until their first unanswered request; the time bound is only a backstop.
    const roundDeadline = Date.now() + 30_000
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(server.base, model, round, w, () => Date.now() > roundDeadline)))
    // Kill once the load is well under way: after 300 to 1100 ms and at least 50 answered writes.
    const killAfter = 300 + ((round * 7919) % 800)
    const deadline = Date.now() + 10_000
    await new Promise((resolve) => setTimeout(resolve, killAfter))
    while (model.stats.ackedCreates + model.stats.ackedUpdates - before.ackedCreates - before.ackedUpdates < 50 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    server.child.kill('SIGKILL')
    await server.exited
    await load // every worker stops at its first unanswered request (bounded by REQUEST_TIMEOUT)
    const acked = model.stats.ackedCreates + model.stats.ackedUpdates + model.stats.ackedDeletes -
      before.ackedCreates - before.ackedUpdates - before.ackedDeletes
    t.ok(acked >= 50, `round ${round}: ${acked} writes acknowledged before SIGKILL at ${killAfter}+ ms`)
    t.comment(`round ${round}: killed with ${acked} acknowledged writes, ${model.stats.unanswered - before.unanswered} in flight`)
  }
  const final = await startServer(t, database)
  verify(t, model, await readAll(final.base), ROUNDS)
  await verifyLog(t, model, database, ROUNDS)
  final.child.kill('SIGTERM')
  await final.exited

  const s = model.stats
  t.comment(`crash safety: ${ROUNDS} SIGKILL rounds survived in ${Date.now() - started} ms; acknowledged writes: ` +
    `${s.ackedCreates} creates, ${s.ackedUpdates} updates, ${s.ackedDeletes} deletes; ${s.rejected} refused writes absent; ` +
    `${s.writesVerified} acknowledged states verified over ${s.rowsChecked} checks; ${s.unanswered} writes cut off unanswered; ` +
    `${s.revisionsChecked} checks of acknowledged revisions in the change log`)
  t.ok(s.writesVerified > 0)
})
