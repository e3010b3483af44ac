import t from 'tap'
import { parseRevisionNotices, type RevisionNotice } from '../db/change-notify.js'
import { AUDIENCE_CHECK_MS, RevisionAnnouncer } from '../store/revision-announcer.js'

// The announcements between instances, without a database: how revisions are batched, and
// what a notification's payload may hold (anyone who may NOTIFY on the channel writes it).

t.test('revisions committed while an announcement is on its way go out together, each user at the latest', async (t) => {
  const batches: RevisionNotice[][] = []
  let release: () => void = () => {}
  const announcer = new RevisionAnnouncer(async (notices) => {
    batches.push(notices)
    await new Promise<void>((resolve) => { release = resolve })
  })
  announcer.announce(1, 1)
  announcer.announce(2, 1)
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(batches, [[{ userId: 1, rev: 1 }, { userId: 2, rev: 1 }]], 'the writes of one turn, in one announcement')
  announcer.announce(1, 2)
  announcer.announce(1, 3)
  announcer.announce(1, 2)
  announcer.announce(3, 7)
  t.equal(batches.length, 1, 'nothing more is sent while one announcement is on its way')
  release()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(batches[1], [{ userId: 1, rev: 3 }, { userId: 3, rev: 7 }], 'then the rest at once, user 1 at its latest revision only')
  release()
  await announcer.flush()
  t.equal(batches.length, 2, 'and nothing after')
})

t.test('a failed announcement is reported and the next ones still go out', async (t) => {
  const sent: RevisionNotice[][] = []
  const errors: unknown[] = []
  let fail = true
  const announcer = new RevisionAnnouncer(async (notices) => {
    if (fail) {
      fail = false
      throw new Error('connection lost')
    }
    sent.push(notices)
  })
  announcer.onError = (error) => { errors.push(error) }
  announcer.announce(5, 1)
  await announcer.flush()
  announcer.announce(5, 2)
  await announcer.flush()
  t.match(errors, [{ message: 'connection lost' }])
  t.same(sent, [[{ userId: 5, rev: 2 }]])
})

t.test('a payload: user:rev pairs separated by commas; anything else in it is passed over', async (t) => {
  t.same(parseRevisionNotices('1:2,30:4'), [{ userId: 1, rev: 2 }, { userId: 30, rev: 4 }])
  t.same(parseRevisionNotices('1:2,x:3,4:-1,5:6:7,,9007199254740993:1,8:9'), [{ userId: 1, rev: 2 }, { userId: 8, rev: 9 }],
    'malformed pairs and ids past the safe integers are dropped, the rest kept')
  t.same(parseRevisionNotices(undefined), [])
  t.same(parseRevisionNotices(''), [])
  t.same(parseRevisionNotices('1:2 '), [], 'no trailing space')
})

t.test('a lone instance announces nothing; what it held back goes out when a listener appears', async (t) => {
  const sent: RevisionNotice[][] = []
  let clock = 0
  let listening = false
  let asked = 0
  const announcer = new RevisionAnnouncer(async (notices) => { sent.push(notices) },
    async () => { asked++; return listening }, () => clock)
  announcer.announce(1, 1)
  await announcer.flush()
  announcer.announce(1, 2)
  announcer.announce(2, 5)
  await announcer.flush()
  t.same(sent, [], 'nobody listens: nothing sent')
  t.equal(asked, 1, 'asked once within the second')

  listening = true
  clock += 500
  announcer.announce(3, 1)
  await announcer.flush()
  t.same(sent, [], 'the last answer holds for a second')
  clock += AUDIENCE_CHECK_MS
  announcer.announce(1, 3)
  await announcer.flush()
  t.equal(asked, 2)
  t.same(sent, [[{ userId: 1, rev: 3 }, { userId: 2, rev: 5 }, { userId: 3, rev: 1 }]],
    'a listener appeared: the held-back revisions go out with the new one, each user at its latest')
  announcer.announce(4, 1)
  await announcer.flush()
  t.same(sent[1], [{ userId: 4, rev: 1 }], 'and then as they come')
})

t.test('held-back revisions are dropped when a later look still finds nobody; a failed look announces', async (t) => {
  const sent: RevisionNotice[][] = []
  const errors: unknown[] = []
  let clock = 0
  let answer: () => boolean = () => false
  const announcer = new RevisionAnnouncer(async (notices) => { sent.push(notices) }, async () => answer(), () => clock)
  announcer.onError = (error) => { errors.push(error) }
  announcer.announce(1, 1)
  await announcer.flush()
  clock += AUDIENCE_CHECK_MS
  announcer.announce(2, 1)
  await announcer.flush()
  clock += AUDIENCE_CHECK_MS
  answer = () => true
  announcer.announce(3, 1)
  await announcer.flush()
  t.same(sent, [[{ userId: 3, rev: 1 }, { userId: 2, rev: 1 }]],
    'user 1 was committed before a look that found nobody: whoever listens later reads it from the log')
  clock += AUDIENCE_CHECK_MS
  answer = () => { throw new Error('pg_stat_activity unreadable') }
  announcer.announce(5, 1)
  await announcer.flush()
  t.same(sent[1], [{ userId: 5, rev: 1 }], 'when it cannot tell, it announces')
  t.match(errors, [{ message: 'pg_stat_activity unreadable' }])
})
