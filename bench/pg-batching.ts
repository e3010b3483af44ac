// Does sharing one transaction among concurrent writes make PostgreSQL writes faster? #17
// asks to measure it before building it. This runs the plugin's own create statement
// (createInOneStatement) from 32 concurrent callers, creates spread over 1,000 users (--users),
// in four ways, alternating, on fresh schemas of one database:
//   autocommit  each write one statement on the pool of 10 (group commit off)
//   per-user    the plugin's group commit: a user's writes that wait share a transaction
//   shared      writes that wait while the pool is busy are taken up to `batch` at a time
//               into one transaction (BEGIN, each statement, COMMIT on one connection)
//   savepoints  the same with a savepoint around each statement, which a real design needs so
//               that one failing write does not undo the others
// and prints writes/s and mean latency for each. Run: npx tsx bench/pg-batching.ts [--url=...]
import { parseArgs } from 'node:util'
import pg from 'pg'
import { openDatabase } from '../db/connect.js'
import { compiledTransaction, DirectTransaction, type Queryable } from '../db/direct/compiled-statements.js'
import { migrateToLatest } from '../db/migrate.js'
import { createInOneStatement } from '../db/postgres-writes.js'

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    callers: { type: 'string', default: '32' },
    batch: { type: 'string', default: '16' },
    transactions: { type: 'string', default: '10' },
    users: { type: 'string', default: '1000' }
  }
})
const SECONDS = Number(args.seconds)
const CALLERS = Number(args.callers)
const BATCH = Number(args.batch)
/** How many shared transactions may be open at once (the pool has 10 connections). */
const TRANSACTIONS = Number(args.transactions)
const USERS = Number(args.users)
const LOG = { actor: { id: 1, isAdmin: false }, maxRevisions: 1000 }

type Mode = 'autocommit' | 'per-user' | 'shared' | 'savepoints'
type Write = (db: Queryable, n: number) => Promise<unknown>

const schemaUrl = (schema: string) => {
  const u = new URL(args.url as string)
  u.searchParams.set('options', `-c search_path=${schema}`)
  return u.toString()
}

let sequence = 0
const create: Write = (db, n) => createInOneStatement(db, 100_000 + (n % USERS), `k${n}`, `{"n":${n}}`, 1_000_000, LOG, new Date().toISOString(), [])

/** Runs each write in a transaction shared with the others waiting, at most `pool` at once. */
function sharedTransactions (db: Parameters<typeof compiledTransaction>[0], pool: number, savepoints: boolean) {
  const waiting: Array<{ n: number, done: (error?: unknown) => void }> = []
  let running = 0
  const pump = () => {
    while (running < pool && waiting.length > 0) {
      const batch = waiting.splice(0, BATCH)
      running++
      compiledTransaction(db, async (trx) => {
        for (const write of batch) {
          if (savepoints) await sqlOn(trx, 'SAVEPOINT w')
          await create(trx, write.n)
          if (savepoints) await sqlOn(trx, 'RELEASE SAVEPOINT w')
        }
      }).then(() => { for (const w of batch) w.done() }, (error: unknown) => { for (const w of batch) w.done(error) })
        .finally(() => { running--; pump() })
    }
  }
  return (n: number) => new Promise<void>((resolve, reject) => {
    waiting.push({ n, done: (error) => { if (error === undefined) resolve(); else reject(error) } })
    pump()
  })
}

/** A statement without parameters on the transaction's connection (openDatabase's PostgreSQL transactions are direct). */
async function sqlOn (trx: Queryable, text: string) {
  if (!(trx instanceof DirectTransaction)) throw new Error('expected a direct PostgreSQL transaction')
  await trx.run(text, [])
}

async function measure (mode: Mode): Promise<{ perSecond: number, meanMs: number }> {
  const schema = `batching_${process.pid}_${sequence++}`
  const admin = new pg.Client({ connectionString: args.url })
  await admin.connect()
  await admin.query(`create schema ${schema}`)
  // per-user: the plugin's own group commit (db/postgres-user-batches.ts); the others without it.
  const { db } = openDatabase(schemaUrl(schema), { groupCommit: mode === 'per-user' ? {} : false })
  try {
    await migrateToLatest(db)
    const write = mode === 'autocommit' || mode === 'per-user' ? async (n: number) => create(db, n) : sharedTransactions(db, TRANSACTIONS, mode === 'savepoints')
    let next = 0
    let done = 0
    let latency = 0
    const until = performance.now() + SECONDS * 1000
    const started = performance.now()
    await Promise.all(Array.from({ length: CALLERS }, async () => {
      while (performance.now() < until) {
        const t = performance.now()
        await write(next++)
        latency += performance.now() - t
        done++
      }
    }))
    const elapsed = (performance.now() - started) / 1000
    return { perSecond: done / elapsed, meanMs: latency / done }
  } finally {
    await db.destroy()
    await admin.query(`drop schema ${schema} cascade`)
    await admin.end()
  }
}

const modes: Mode[] = ['autocommit', 'per-user', 'shared', 'savepoints']
const totals = new Map<Mode, { perSecond: number, meanMs: number }[]>()
for (let round = 0; round < Number(args.rounds); round++) {
  for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
    const result = await measure(mode)
    totals.set(mode, [...(totals.get(mode) ?? []), result])
    console.log(`round ${round + 1} ${mode.padEnd(10)} ${result.perSecond.toFixed(0).padStart(6)} writes/s  mean ${result.meanMs.toFixed(2)} ms`)
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const auto = mean(totals.get('autocommit')!.map((r) => r.perSecond))
for (const mode of modes) {
  const rate = mean(totals.get(mode)!.map((r) => r.perSecond))
  console.log(`${mode.padEnd(10)} ${rate.toFixed(0).padStart(6)} writes/s  ${(rate / auto).toFixed(2)}x autocommit  (${CALLERS} callers, ${USERS} users, batches of up to ${BATCH}, ${TRANSACTIONS} shared transactions at once, pool 10)`)
}
