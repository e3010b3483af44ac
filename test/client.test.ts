import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createPreferencesClient, NOT_MODIFIED, PRECONDITION_FAILED } from '../client/index.js'
import { adminToken, token } from './helper.js'
import { apiError, ETAG, serve, written } from './served-client.js'

// The client against the real standalone server (test/served-client.ts), over HTTP on a free
// port. Every answer it receives is also checked against the server's OpenAPI document.

/** The preference without the client's `etag`, as the server stores it. */
const stored = <T extends { etag: string }>({ etag, ...rest }: T) => rest

t.test('by id: create, list, get, patch, replace, delete; every result with its ETag', async (t) => {
  const { calls, as } = await serve(t)
  const client = as(5)

  const created = await client.create({ key: 'theme', value: { mode: 'dark', sizes: [1, 2] } })
  t.match(created, { user_id: 5, key: 'theme', value: { mode: 'dark', sizes: [1, 2] }, etag: ETAG })
  t.type(created.id, 'number')
  t.match(created.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const second = await client.create({ key: 'lang', value: 'fr' })
  await client.create({ key: 'tour', value: null })

  t.same(await client.getById(created.id), created, 'the same preference and ETag as the create answered')
  const page = await client.list({ limit: 2 })
  t.equal(page.count, 3)
  t.same(page.results.map((p) => p.key), ['theme', 'lang'])
  t.match(page.next, /offset=2/)
  t.equal(page.previous, null)
  t.match(page.etag, ETAG, 'the list has its own ETag')
  t.same((await client.list({ key: 'lang' })).results, [stored(second)], 'filtered by key; list entries carry no ETag')
  t.same((await client.list({ offset: 2 })).results.map((p) => p.key), ['tour'])
  t.same((await client.list({ search: 'tour' })).results.map((p) => p.key), ['tour'])

  const updated = await client.patchById(created.id, { value: { mode: 'light' } })
  t.match(updated, { id: created.id, key: 'theme', value: { mode: 'light' }, etag: ETAG })
  t.not(updated.etag, created.etag, 'a change is a new ETag')
  const renamed = await client.patchById(created.id, { key: 'colours' })
  t.match(renamed, { key: 'colours', value: { mode: 'light' } })
  const replaced = await client.replaceById(second.id, { key: 'language', value: 'de' })
  t.match(replaced, { id: second.id, key: 'language', value: 'de', etag: ETAG })

  t.equal(await client.deleteById(second.id), undefined)
  await apiError(t, client.getById(second.id), 404, 'PREFERENCE_NOT_FOUND', 'deleted')
  await apiError(t, client.deleteById(second.id), 404, 'PREFERENCE_NOT_FOUND', 'deleted twice')

  t.same(calls.slice(0, 3), ['POST /api/v2/user/me/preference/', 'POST /api/v2/user/me/preference/', 'POST /api/v2/user/me/preference/'],
    'through the given fetch, with the canonical paths')
  t.ok(calls.includes('GET /api/v2/user/me/preference/?limit=2'))
  t.ok(calls.includes(`PATCH /api/v2/user/me/preference/${created.id}/`))
})

t.test('by key: get (undefined when not set), set (created or replaced), delete (false when not set)', async (t) => {
  const { baseUrl, calls, as } = await serve(t)
  const client = as(5)

  t.equal(await client.get('editor/font size'), undefined, 'a key that is not set')
  const first = await client.set('editor/font size', 14)
  t.match(first, { user_id: 5, key: 'editor/font size', value: 14, created: true, etag: ETAG })
  const again = await client.set('editor/font size', 16)
  t.match(again, { id: first.id, value: 16, created: false, etag: ETAG }, 'the same preference, replaced')
  t.not(again.etag, first.etag)
  const { created: wasCreated, ...fields } = again
  t.equal(wasCreated, false)
  t.same(await client.get('editor/font size'), fields, 'get answers what set stored, with the ETag the write answered')
  t.equal(await client.set('nothing', null).then((p) => p.value), null, 'null is a value')

  t.equal(await client.delete('editor/font size'), true)
  t.equal(await client.delete('editor/font size'), false, 'a key that is no longer set')
  t.equal(await client.get('editor/font size'), undefined)
  t.same((await client.list()).results.map((p) => p.key), ['nothing'])

  t.ok(calls.includes('PUT /api/v2/user/me/preference/by-key/editor%2Ffont%20size/'), 'the key is one percent-encoded segment')
  const unicode = await client.set('thème/é ü', 'ok')
  t.equal((await client.get('thème/é ü'))?.id, unicode.id, 'a key beyond ASCII')

  // An admin sets and reads another user's preferences by key.
  const admin = createPreferencesClient({ baseUrl, token: adminToken(99) })
  t.match(await admin.set('k', 1, { userId: 7, signal: AbortSignal.timeout(10_000) }), { user_id: 7, created: true })
  t.match(await admin.get('k', { userId: 7, signal: AbortSignal.timeout(10_000) }), { user_id: 7, value: 1 })
})

t.test('merge: an RFC 7396 patch of all the user\'s preferences, {results, deleted}', async (t) => {
  const { calls, as } = await serve(t)
  const client = as(5)
  await client.set('theme', { mode: 'dark', accent: 'red' })
  await client.set('legacy', true)

  const merged = await client.merge({ theme: { accent: null, size: 2 }, 'tour.seen': true, legacy: null, absent: null })
  t.match(merged.results, [
    { key: 'theme', value: { mode: 'dark', size: 2 } },
    { key: 'tour.seen', value: true, user_id: 5 }
  ], 'the created and updated preferences, in patch order')
  t.same(merged.deleted, ['legacy'], 'only keys that existed')
  t.notOk('etag' in merged.results[0], 'no ETags: the server sends none for the bulk answer')
  t.same((await client.list()).results.map((p) => [p.key, p.value]), [['theme', { mode: 'dark', size: 2 }], ['tour.seen', true]])
  t.same(await client.merge({}), { results: [], deleted: [] }, 'an empty patch changes nothing')
  t.ok(calls.includes('PATCH /api/v2/user/me/preference/'))

  // All or nothing: the error names the key.
  const tooBig = await apiError(t, client.merge({ theme: null, big: 'x'.repeat(100) }), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'a value over maxValueBytes')
  t.match(tooBig?.message, /"big"/)
  await apiError(t, client.merge({ '': 1 }), 400, 'PREFERENCE_VALIDATION_FAILED', 'an empty key')
  t.equal((await client.get('theme'))?.key, 'theme', 'nothing written by a rejected patch')
})

t.test('export, import (merge, replace, dry run) and erase', async (t) => {
  const { calls, as } = await serve(t)
  const five = as(5)
  await five.set('theme', 'dark')
  await five.set('lang', 'fr')

  const doc = await five.export()
  t.match(doc, { format: 'preferences-export/1', user_id: 5, rev: 2, preferences: { theme: 'dark', lang: 'fr' } })
  const six = as(6)
  await six.set('old', 1)
  const dry = await six.import(doc, { mode: 'replace', dryRun: true })
  t.same(dry, { rev: 1, dry_run: true, created: ['lang', 'theme'], updated: [], deleted: ['old'], unchanged: [] })
  t.same((await six.list()).results.map((p) => p.key), ['old'], 'a dry run wrote nothing')
  t.same(await six.import(doc, { mode: 'replace' }), { ...dry, rev: 2, dry_run: false })
  t.same(await six.import({ preferences: { lang: 'de', theme: 'dark' } }), { rev: 3, dry_run: false, created: [], updated: ['lang'], deleted: [], unchanged: ['theme'] })
  await apiError(t, six.import({ preferences: { big: 'x'.repeat(100) } }), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'a value over maxValueBytes')
  await apiError(t, as(6).export({ userId: 5 }), 403, 'PREFERENCE_FORBIDDEN', 'another user\'s export')

  t.equal(await six.erase(), undefined)
  t.same((await six.export()).preferences, {}, 'erased')
  t.equal((await six.export()).rev, 4)
  t.ok(calls.includes('POST /api/v2/user/me/preference/import/?mode=replace&dry_run=true'))
  t.ok(calls.includes('POST /api/v2/user/me/preference/import/'), 'no query when the options are left out')
  t.ok(calls.includes('DELETE /api/v2/user/me/preference/'))
})

t.test('conditional requests: NOT_MODIFIED (304) and PRECONDITION_FAILED (412) as results', async (t) => {
  const { as } = await serve(t)
  const client = as(5)
  const device2 = as(5)

  const a = await client.set('layout', { columns: 2 })
  t.equal(await client.get('layout', { ifNoneMatch: a.etag }), NOT_MODIFIED, 'by key: 304 while unchanged')
  t.equal(await client.getById(a.id, { ifNoneMatch: a.etag }), NOT_MODIFIED, 'by id')
  t.equal(await client.get('layout', { ifNoneMatch: '*' }), NOT_MODIFIED, '* matches what exists')
  t.equal(await client.get('absent', { ifNoneMatch: '*' }), undefined, 'and not what does not')
  const page = await client.list()
  t.equal(await client.list({ ifNoneMatch: page.etag }), NOT_MODIFIED, 'the list')

  // Another device writes, with the ETag it read: it wins.
  const b = written(await device2.set('layout', { columns: 3 }, { ifMatch: a.etag }))
  t.match(b, { value: { columns: 3 }, created: false })

  t.equal(await client.set('layout', { columns: 4 }, { ifMatch: a.etag }), PRECONDITION_FAILED, 'set with a stale ETag')
  t.equal(await client.patchById(a.id, { value: 4 }, { ifMatch: a.etag }), PRECONDITION_FAILED, 'patchById')
  t.equal(await client.replaceById(a.id, { key: 'layout', value: 4 }, { ifMatch: a.etag }), PRECONDITION_FAILED, 'replaceById')
  t.equal(await client.delete('layout', { ifMatch: a.etag }), PRECONDITION_FAILED, 'delete')
  t.equal(await client.deleteById(a.id, { ifMatch: a.etag }), PRECONDITION_FAILED, 'deleteById')
  t.match(await client.get('layout'), { value: { columns: 3 }, etag: b.etag }, 'none of them wrote')

  const fresh = await client.get('layout', { ifNoneMatch: a.etag })
  t.not(fresh, NOT_MODIFIED, 'an old ETag: the new preference')
  t.match(fresh, { value: { columns: 3 }, etag: b.etag })
  t.not(await client.list({ ifNoneMatch: page.etag }), NOT_MODIFIED, 'the list changed too')

  const patched = written(await client.patchById(a.id, { value: { columns: 5 } }, { ifMatch: b.etag }))
  t.match(patched, { value: { columns: 5 }, etag: ETAG }, 'the current ETag: written')
  t.match(await client.replaceById(a.id, { key: 'layout', value: 6 }, { ifMatch: patched.etag }), { value: 6 })
  t.match(await client.set('layout', 7, { ifMatch: '*' }), { value: 7, created: false }, 'If-Match: * (it exists)')

  // set: create only, or replace only.
  t.equal(await client.set('layout', 8, { ifNoneMatch: '*' }), PRECONDITION_FAILED, 'create only, but it exists')
  t.match(await client.set('new', 1, { ifNoneMatch: '*' }), { created: true }, 'create only')
  t.equal(await client.set('absent', 1, { ifMatch: '*' }), PRECONDITION_FAILED, 'replace only, but it does not exist')
  t.equal(await client.get('absent'), undefined)

  const current = await client.get('layout')
  t.equal(await client.delete('layout', { ifMatch: current?.etag }), true, 'delete with the current ETag')
  t.equal(await client.delete('layout', { ifMatch: '*' }), false, 'an absent key stays false, not a 412')
  const other = await client.create({ key: 'other', value: 1 })
  t.equal(await client.deleteById(other.id, { ifMatch: other.etag }), undefined, 'deleteById with the current ETag')
  await apiError(t, client.deleteById(other.id, { ifMatch: other.etag }), 404, 'PREFERENCE_NOT_FOUND', 'an absent id stays a 404')

  // A conditional option left undefined sends nothing: the plain outcome.
  t.match(await client.set('layout', 9, { ifMatch: undefined }), { created: true })
})

t.test('update(key, fn): read, compute, write with If-Match; again after a 412, a bounded number of times', async (t) => {
  const { as, calls } = await serve(t)
  const client = as(5)
  const device2 = as(5)
  const plusOne = (value: unknown) => (typeof value === 'number' ? value : 0) + 1

  const created = await client.update('visits', plusOne)
  t.match(created, { key: 'visits', value: 1, created: true, etag: ETAG }, 'absent: created, from undefined')
  t.match(await client.update('visits', plusOne), { value: 2, created: false })

  // Another device writes between this update's read and its write: the 412 makes it read again.
  let runs = 0
  const seen: unknown[] = []
  const result = await client.update('visits', async (value, current) => {
    runs++
    seen.push([value, current?.value])
    if (runs === 1) await device2.set('visits', 10)
    return plusOne(value)
  })
  t.equal(runs, 2, 'fn ran again on what the other device stored')
  t.same(seen, [[2, 2], [10, 10]])
  t.match(result, { value: 11, created: false })

  // The same for a key created meanwhile: create-only (If-None-Match: *) failed.
  let creates = 0
  const raced = await client.update('recent', (value) => {
    if (creates++ === 0) return device2.set('recent', ['b']).then(() => ['a'])
    return [...(value as string[]), 'a']
  })
  t.match(raced, { value: ['b', 'a'], created: false })

  // Always beaten: at most retries + 1 attempts, then the 412 as an error.
  let attempts = 0
  const before = calls.length
  const gaveUp = await apiError(t, client.update('visits', async (value) => {
    attempts++
    await device2.set('visits', 100 + attempts)
    return plusOne(value)
  }, { retries: 2 }), 412, 'PREFERENCE_PRECONDITION_FAILED', 'beaten every time')
  t.equal(attempts, 3, 'retries: 2 is three attempts')
  t.match(gaveUp?.message, /"visits" changed under each of 3 attempts/)
  t.equal(calls.slice(before).filter((c) => c.startsWith('PUT')).length, 6, 'three writes of its own, three of the other device')
  t.match(await client.get('visits'), { value: 103 }, 'the other device\'s last write stands')
  await apiError(t, client.update('visits', async (value) => {
    await device2.set('visits', 0)
    return plusOne(value)
  }, { retries: 0 }), 412, 'PREFERENCE_PRECONDITION_FAILED', 'retries: 0')

  // Concurrent updates of one counter: none is lost.
  await client.set('counter', 0)
  const writers = [as(5), as(5), as(5), as(5)]
  await Promise.all(writers.map((w) => w.update('counter', plusOne, { retries: 20 })))
  t.match(await client.get('counter'), { value: 4 }, 'four increments, four counted')

  // An error from fn or from the server is not retried.
  await t.rejects(client.update('visits', () => { throw new Error('no') }), { message: 'no' })
  await apiError(t, client.update('visits', () => 'x'.repeat(100)), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'a value too large')
})

t.test('error answers become PreferencesApiError with the API\'s code', async (t) => {
  const { baseUrl, fetch, as } = await serve(t)
  const client = as(5)
  const p = await client.create({ key: 'k', value: 1 })

  const exists = await apiError(t, client.create({ key: 'k', value: 2 }), 409, 'PREFERENCE_KEY_EXISTS', 'a duplicate key')
  t.match(exists?.message, /"k" already exists/)
  t.match(exists?.body, { statusCode: 409, code: 'PREFERENCE_KEY_EXISTS', error: 'Conflict' }, 'the API\'s error object')
  await apiError(t, client.create({ key: '', value: 1 }), 400, 'PREFERENCE_VALIDATION_FAILED', 'an empty key')
  await apiError(t, client.patchById(p.id, {}), 400, 'PREFERENCE_EMPTY_PATCH', 'an empty patch')
  await apiError(t, client.create({ key: 'big', value: 'x'.repeat(100) }), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'over maxValueBytes')
  await apiError(t, client.set('big', 'x'.repeat(100)), 413, 'PREFERENCE_VALUE_TOO_LARGE', 'over maxValueBytes, by key')
  await apiError(t, client.getById(p.id + 1000), 404, 'PREFERENCE_NOT_FOUND', 'no such id')
  await apiError(t, client.patchById(p.id + 1000, { value: 1 }, { ifMatch: '*' }), 404, 'PREFERENCE_NOT_FOUND', 'no such id, conditional')
  await apiError(t, client.list({ userId: 6 }), 403, 'PREFERENCE_FORBIDDEN', 'someone else\'s')
  await apiError(t, client.replaceById(p.id, { key: 'x', value: 1 }, { userId: 6 }), 403, 'PREFERENCE_FORBIDDEN', 'someone else\'s, PUT')
  await apiError(t, client.get('k', { userId: 6 }), 403, 'PREFERENCE_FORBIDDEN', 'someone else\'s, by key: not undefined')
  await apiError(t, client.get('x'.repeat(256)), 400, 'PREFERENCE_INVALID_PATH_PARAMETER', 'a key over 255 characters')

  const anonymous = createPreferencesClient({ baseUrl, fetch })
  await apiError(t, anonymous.list(), 401, 'PREFERENCE_AUTH_REQUIRED', 'no token')
  const forged = createPreferencesClient({ baseUrl, fetch, token: token({ sub: 5, secret: 'not-the-server-secret' }) })
  await apiError(t, forged.getById(p.id), 401, 'PREFERENCE_AUTH_INVALID', 'a token with another secret')

  // An admin acts for user 5 (userId per call or per client); a token from a function.
  let asked = 0
  const admin = createPreferencesClient({ baseUrl, fetch, userId: 5, token: async () => { asked++; return adminToken(99) } })
  t.same((await admin.list()).results.map((x) => x.key), ['k'])
  t.match(await admin.create({ key: 'by admin', value: true }, { userId: 7 }), { user_id: 7 })
  t.equal(asked, 2, 'the token function is called per request')

  // Wrong ids and keys are the caller's bug: thrown before any request.
  await t.rejects(client.getById(0), TypeError)
  await t.rejects(client.list({ userId: -1 }), TypeError)
  await t.rejects(client.get(''), TypeError)
  await t.rejects(client.get(5 as unknown as string), TypeError, 'a number is not a key')
  await t.rejects(client.set('..', 1), { name: 'TypeError', message: /use list\(\{ key \}\) and merge\(\)/ }, 'a dot segment')
  await t.rejects(client.delete('.'), TypeError)
})

t.test('an ETag the client cannot read (cross-origin without Access-Control-Expose-Headers)', async (t) => {
  const { baseUrl, fetch: checked, calls } = await serve(t)
  // What a browser shows a page when a cross-origin answer does not expose ETag.
  const hiding: typeof fetch = async (input, init) => {
    const response = await checked(input, init)
    const headers = new Headers(response.headers)
    headers.delete('etag')
    const body = response.status === 204 || response.status === 304 ? null : await response.text()
    return new Response(body, { status: response.status, headers })
  }
  const client = createPreferencesClient({ baseUrl, token: token(5), fetch: hiding })
  const p = await client.set('k', 1)
  t.equal(p.etag, '', 'an empty etag, not a missing property')
  const before = calls.length
  await t.rejects(client.set('k', 2, { ifMatch: p.etag }), { name: 'TypeError', message: /if-match is empty.*Access-Control-Expose-Headers/ })
  await t.rejects(client.get('k', { ifNoneMatch: '' }), { name: 'TypeError', message: /if-none-match is empty/ })
  await t.rejects(client.update('k', () => 3), TypeError, 'update needs the ETag: it says so rather than write unchecked')
  t.same(calls.slice(before), ['GET /api/v2/user/me/preference/by-key/k/'], 'no write was sent')
  t.match(await client.get('k'), { value: 1 })
})

t.test('a relative baseUrl: the page\'s origin in a browser, a TypeError where there is no page', async (t) => {
  const { baseUrl, fetch, calls } = await serve(t)
  const origin = new URL(baseUrl).origin
  const relative = createPreferencesClient({ baseUrl: '/api/v2/', token: token(5), fetch })
  await t.rejects(relative.get('k'), TypeError, 'Node has no page to resolve it against')
  // What a browser page has: its location (the one stand-in here; the server is real).
  const page = globalThis as { location?: { href: string } }
  page.location = { href: `${origin}/settings/index.html` }
  t.after(() => { delete page.location })
  t.match(await relative.set('k', 1), { key: 'k', value: 1, created: true })
  t.match(await relative.get('k'), { value: 1 })
  t.equal(calls.at(-1), 'GET /api/v2/user/me/preference/by-key/k/')
})

t.test('an answer that is not the API\'s: PREFERENCE_UNEXPECTED_RESPONSE', async (t) => {
  const { baseUrl } = await serve(t)
  const wrongBase = createPreferencesClient({ baseUrl: baseUrl.replace('/api/v2', '/nothing-here'), token: token(1) })
  const notFound = await apiError(t, wrongBase.list({ signal: AbortSignal.timeout(10_000) }), 404,
    'PREFERENCE_UNEXPECTED_RESPONSE', 'a path outside the API (the global fetch)')
  t.match(notFound?.message, /Unexpected answer 404 to GET \/nothing-here\/user\/me\/preference\//)
  await apiError(t, wrongBase.get('k', { signal: AbortSignal.timeout(10_000) }), 404,
    'PREFERENCE_UNEXPECTED_RESPONSE', 'by key: a 404 that is not the API\'s is not "not set"')
  await apiError(t, wrongBase.delete('k', { signal: AbortSignal.timeout(10_000) }), 404,
    'PREFERENCE_UNEXPECTED_RESPONSE', 'nor "was not set"')

  // A server that is not this API at all, as a proxy's error page would be; by-key/304/ and
  // by-key/412/ answer those statuses without the API's error body.
  const proxy = createServer((request, response) => {
    if (request.url?.endsWith('/by-key/304/') === true) response.writeHead(304).end()
    else if (request.url?.endsWith('/by-key/412/') === true) response.writeHead(412, { 'content-type': 'text/plain' }).end('no')
    else response.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>')
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => proxy.close(resolve)))
  const { port } = proxy.address() as AddressInfo
  const proxied = createPreferencesClient({ baseUrl: `http://127.0.0.1:${port}/api/v2`, token: token(1) })
  const signal = () => AbortSignal.timeout(10_000)
  const bad = await apiError(t, proxied.getById(1, { signal: signal() }), 502, 'PREFERENCE_UNEXPECTED_RESPONSE', 'an HTML error page')
  t.equal(bad?.body, '<html>bad gateway</html>')
  await apiError(t, proxied.set('412', 1, { ifMatch: '"x"', signal: signal() }), 412, 'PREFERENCE_UNEXPECTED_RESPONSE',
    'a 412 that is not the API\'s is not PRECONDITION_FAILED')
  t.equal(await proxied.get('304', { ifNoneMatch: '"x"', signal: signal() }), NOT_MODIFIED, 'a 304 to a conditional GET')
  await apiError(t, proxied.get('304', { signal: signal() }), 304, 'PREFERENCE_UNEXPECTED_RESPONSE', 'a 304 to a GET that was not conditional')
})
