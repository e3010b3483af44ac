import t from 'tap'
import { bearer, build, client, PREFIX, token } from './helper.js'

const server = { routerOptions: { maxParamLength: 4096 } }
const ETAG = /^"[A-Za-z0-9_-]{27}"$/

t.test('every single-preference response carries a strong ETag that matches a later GET', async (t) => {
  const { app } = await build(t, { server })
  const c = client(app, token(1))
  const created = await c.create('theme', { mode: 'dark' })
  const id = created.json().id
  t.match(created.headers.etag, ETAG, 'POST 201')
  const get = await c.request('GET', `/user/me/preference/${id}/`)
  t.equal(get.headers.etag, created.headers.etag, 'GET by id: same ETag while unchanged')
  t.equal((await c.request('GET', '/user/me/preference/by-key/theme/')).headers.etag, created.headers.etag, 'GET by key')

  const patched = await c.request('PATCH', `/user/me/preference/${id}/`, { value: { mode: 'light' } })
  t.match(patched.headers.etag, ETAG, 'PATCH 200')
  t.not(patched.headers.etag, created.headers.etag, 'a change is a new ETag')
  const renamed = await c.request('PUT', `/user/me/preference/${id}/`, { key: 'colors', value: { mode: 'light' } })
  t.match(renamed.headers.etag, ETAG, 'PUT 200')
  t.not(renamed.headers.etag, patched.headers.etag, 'a new key is a new ETag')
  const upserted = await c.request('PUT', '/user/me/preference/by-key/colors/', { value: 1 })
  t.not(upserted.headers.etag, renamed.headers.etag, 'PUT by key 200')
  t.equal((await c.request('GET', `/user/me/preference/${id}/`)).headers.etag, upserted.headers.etag)
})

t.test('If-None-Match on GET one (by id and by key): 304 with no body', async (t) => {
  const { app } = await build(t, { server })
  const c = client(app, token(1))
  const created = await c.create('theme', 'dark')
  const etag = created.headers.etag as string
  for (const path of [`/user/me/preference/${created.json().id}/`, '/user/me/preference/by-key/theme/']) {
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await c.request('GET', path, undefined, { 'if-none-match': header })
      t.equal(res.statusCode, 304, `${path} If-None-Match: ${header}`)
      t.equal(res.body, '')
      t.equal(res.headers.etag, etag)
      t.notOk(res.headers['content-length'], 'no Content-Length')
    }
    for (const header of ['"other"', 'W/"other"', 'garbage', etag.slice(1, -1)]) {
      const res = await c.request('GET', path, undefined, { 'if-none-match': header })
      t.equal(res.statusCode, 200, `${path} If-None-Match: ${header}`)
      t.equal(res.json().value, 'dark')
    }
  }
  await c.request('PATCH', `/user/me/preference/${created.json().id}/`, { value: 'light' })
  const stale = await c.request('GET', '/user/me/preference/by-key/theme/', undefined, { 'if-none-match': etag })
  t.equal(stale.statusCode, 200, 'after a change the old tag no longer matches')
  t.equal(stale.json().value, 'light')
  const absent = await c.request('GET', '/user/me/preference/by-key/absent/', undefined, { 'if-none-match': '*' })
  t.equal(absent.statusCode, 404, '* matches only what exists')
})

t.test('the list: ETag, 304 while unchanged, a new ETag when a listed preference changes', async (t) => {
  const { app } = await build(t, { server })
  const c = client(app, token(1))
  const a = (await c.create('a', 1)).json()
  await c.create('b', 2)
  const c3 = (await c.create('c', 3)).json()
  const first = await c.request('GET', '/user/me/preference/?limit=2')
  const etag = first.headers.etag as string
  t.match(etag, ETAG)
  const again = await c.request('GET', '/user/me/preference/?limit=2', undefined, { 'if-none-match': etag })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')

  await c.request('PATCH', `/user/me/preference/${c3.id}/`, { value: 30 })
  const offPage = await c.request('GET', '/user/me/preference/?limit=2', undefined, { 'if-none-match': etag })
  t.equal(offPage.statusCode, 304, 'a preference outside the page is not in the listed set')

  await c.request('PATCH', `/user/me/preference/${a.id}/`, { value: 10 })
  const changed = await c.request('GET', '/user/me/preference/?limit=2', undefined, { 'if-none-match': etag })
  t.equal(changed.statusCode, 200, 'an update to a listed preference')
  t.not(changed.headers.etag, etag)
  t.equal(changed.json().results[0].value, 10)

  const newEtag = changed.headers.etag as string
  await c.create('d', 4)
  const counted = await c.request('GET', '/user/me/preference/?limit=2', undefined, { 'if-none-match': newEtag })
  t.equal(counted.statusCode, 200, 'the count is part of the list too')
})

t.test('If-Match on PATCH, PUT and DELETE by id: 412 when stale, success with the current ETag', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  const created = await c.create('k', 1)
  const id = created.json().id
  const path = `/user/me/preference/${id}/`
  const stale = created.headers.etag as string
  const current = (await c.request('PATCH', path, { value: 2 })).headers.etag as string
  const before = await rows()

  for (const [method, body] of [['PATCH', { value: 3 }], ['PUT', { key: 'k', value: 3 }], ['DELETE', undefined]] as const) {
    for (const header of [stale, `W/${current}`, '"nope", "other"', 'garbage', '']) {
      const res = await c.request(method, path, body, { 'if-match': header })
      t.equal(res.statusCode, 412, `${method} If-Match: ${header}`)
      t.equal(res.json().code, 'PREFERENCE_PRECONDITION_FAILED')
    }
  }
  t.same(await rows(), before, 'nothing changed')

  const patched = await c.request('PATCH', path, { value: 3 }, { 'if-match': current })
  t.equal(patched.statusCode, 200)
  const put = await c.request('PUT', path, { key: 'k', value: 4 }, { 'if-match': `"x", ${patched.headers.etag}` })
  t.equal(put.statusCode, 200, 'a list of tags')
  t.same((await rows()).map((r) => r.value), ['4'])
  const del = await c.request('DELETE', path, undefined, { 'if-match': '*' })
  t.equal(del.statusCode, 204, '* matches an existing preference')
  t.same(await rows(), [])
})

t.test('If-None-Match with the current ETag (strong or W/) on PATCH, PUT and DELETE: 412; a stale one succeeds', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  const created = await c.create('k', 1)
  const id = created.json().id
  const stale = created.headers.etag as string
  const byId = `/user/me/preference/${id}/`
  const byKey = '/user/me/preference/by-key/k/'
  const current = (await c.request('PATCH', byId, { value: 2 })).headers.etag as string
  const before = await rows()

  const writes = [['PATCH', byId, { value: 3 }], ['PUT', byId, { key: 'k', value: 3 }], ['DELETE', byId, undefined],
    ['PUT', byKey, { value: 3 }], ['DELETE', byKey, undefined]] as const
  for (const [method, path, body] of writes) {
    for (const header of [current, `W/${current}`, `"other", ${current}`]) {
      const res = await c.request(method, path, body, { 'if-none-match': header })
      t.equal(res.statusCode, 412, `${method} ${path} If-None-Match: ${header}`)
      t.same(res.json(), {
        statusCode: 412, code: 'PREFERENCE_PRECONDITION_FAILED', error: 'Precondition Failed', message: 'If-None-Match matches the preference\'s current ETag'
      })
    }
  }
  t.same(await rows(), before, 'nothing changed')

  // A stale tag does not match: each write goes ahead, and gives the next one a new stale tag.
  const patched = await c.request('PATCH', byId, { value: 3 }, { 'if-none-match': stale })
  t.equal(patched.statusCode, 200, 'PATCH with a stale If-None-Match')
  const put = await c.request('PUT', byId, { key: 'k', value: 4 }, { 'if-none-match': `W/${current}` })
  t.equal(put.statusCode, 200, 'PUT with a stale weak If-None-Match')
  const putByKey = await c.request('PUT', byKey, { value: 5 }, { 'if-none-match': current })
  t.equal(putByKey.statusCode, 200, 'PUT by key with a stale If-None-Match')
  t.same((await rows()).map((r) => r.value), ['5'])
  const del = await c.request('DELETE', byId, undefined, { 'if-none-match': stale })
  t.equal(del.statusCode, 204, 'DELETE with a stale If-None-Match')
  t.same(await rows(), [])
})

t.test('an absent id stays a 404 whatever the precondition', async (t) => {
  const { app } = await build(t)
  const c = client(app, token(1))
  for (const [method, body] of [['PATCH', { value: 1 }], ['PUT', { key: 'k', value: 1 }], ['DELETE', undefined]] as const) {
    for (const header of ['*', '"stale"']) {
      const res = await c.request(method, '/user/me/preference/999/', body, { 'if-match': header })
      t.equal(res.statusCode, 404, `${method} If-Match: ${header}`)
    }
  }
})

t.test('If-Match on PUT and DELETE by key: 412 when stale or absent (PUT), success when current', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  const path = '/user/me/preference/by-key/a%2Fb/'
  const created = await c.request('PUT', path, { value: 1 })
  const stale = created.headers.etag as string
  const current = (await c.request('PUT', path, { value: 2 })).headers.etag as string
  const before = await rows()

  const put = await c.request('PUT', path, { value: 3 }, { 'if-match': stale })
  t.equal(put.statusCode, 412)
  t.equal(put.json().code, 'PREFERENCE_PRECONDITION_FAILED')
  const del = await c.request('DELETE', path, undefined, { 'if-match': stale })
  t.equal(del.statusCode, 412)
  t.same(await rows(), before)

  for (const header of ['*', stale]) {
    const absent = await c.request('PUT', '/user/me/preference/by-key/absent/', { value: 1 }, { 'if-match': header })
    t.equal(absent.statusCode, 412, `PUT of an absent key with If-Match: ${header}`)
  }
  t.equal((await c.request('DELETE', '/user/me/preference/by-key/absent/', undefined, { 'if-match': '*' })).statusCode, 404,
    'DELETE of an absent key stays a 404')
  t.same(await rows(), before, 'nothing created')

  const ok = await c.request('PUT', path, { value: 3 }, { 'if-match': current })
  t.equal(ok.statusCode, 200)
  t.equal((await c.request('DELETE', path, undefined, { 'if-match': ok.headers.etag as string })).statusCode, 204)
  t.same(await rows(), [])
})

t.test('If-None-Match: * on PUT by key creates only', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  const path = '/user/me/preference/by-key/once/'
  const first = await c.request('PUT', path, { value: 1 }, { 'if-none-match': '*' })
  t.equal(first.statusCode, 201)
  const second = await c.request('PUT', path, { value: 2 }, { 'if-none-match': '*' })
  t.equal(second.statusCode, 412)
  t.equal(second.json().code, 'PREFERENCE_PRECONDITION_FAILED')
  t.same((await rows()).map((r) => r.value), ['1'])
})

t.test('two devices: the second write with a stale ETag is refused, re-read, then succeeds', async (t) => {
  const { app, rows } = await build(t, { server })
  const phone = client(app, token(1))
  const laptop = client(app, token(1))
  const path = '/user/me/preference/by-key/layout/'
  await phone.request('PUT', path, { value: { columns: 2 } })

  const phoneCopy = await phone.request('GET', path)
  const laptopCopy = await laptop.request('GET', path)
  const phoneWrite = await phone.request('PUT', path, { value: { ...phoneCopy.json().value, columns: 3 } },
    { 'if-match': phoneCopy.headers.etag as string })
  t.equal(phoneWrite.statusCode, 200)
  const laptopWrite = await laptop.request('PUT', path, { value: { ...laptopCopy.json().value, sidebar: true } },
    { 'if-match': laptopCopy.headers.etag as string })
  t.equal(laptopWrite.statusCode, 412, 'the laptop would have lost the phone\'s change')
  const fresh = await laptop.request('GET', path)
  const retry = await laptop.request('PUT', path, { value: { ...fresh.json().value, sidebar: true } },
    { 'if-match': fresh.headers.etag as string })
  t.equal(retry.statusCode, 200)
  t.same((await rows()).map((r) => r.value), ['{"columns":3,"sidebar":true}'])
})

t.test('compare-and-write is atomic: of 10 concurrent writes with one ETag, one wins', async (t) => {
  const { app, rows } = await build(t, { server })
  const c = client(app, token(1))
  const created = await c.create('counter', 0)
  const id = created.json().id
  const etag = created.headers.etag as string
  const send = (method: 'PATCH' | 'PUT', url: string, payload: Record<string, unknown>) => app.inject({
    method, url: `${PREFIX}${url}`, payload, headers: { ...bearer(token(1)), 'content-type': 'application/json', 'if-match': etag }
  })
  // Warm a connection pool (PostgreSQL), so that the writes below really run side by side.
  await Promise.all(Array.from({ length: 10 }, () => c.request('GET', '/user/me/preference/')))
  const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => i % 2 === 0
    ? send('PATCH', `/user/me/preference/${id}/`, { value: i + 1 })
    : send('PUT', '/user/me/preference/by-key/counter/', { value: i + 1 })))
  const statuses = responses.map((r) => r.statusCode).sort()
  t.same(statuses, [200, 412, 412, 412, 412, 412, 412, 412, 412, 412])
  const winner = responses.find((r) => r.statusCode === 200)
  t.same((await rows()).map((r) => r.value), [JSON.stringify(winner?.json().value)])
})
