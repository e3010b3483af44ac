import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'
import { NOT_MODIFIED, PRECONDITION_FAILED } from '../client/index.js'
import { adminToken, token } from './helper.js'
import { KEYS } from './keys-fixture.js'
import { apiError, ETAG, serve, written } from './served-client.js'

// The client typed from the key registry, at compile time and at run time. The fixtures in
// test/types/ must compile with tsc, and must fail exactly where they say once their
// expect-error directives are taken out. At run time, the client typed with the registry
// the real server has, for each operation and outcome.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const FIXTURES = ['typebox-registry.ts', 'json-schema-registry.ts'].map((name) => join(ROOT, 'test', 'types', name))

/** A directive naming a code (`TS2345`, say): the line below it must fail with that code. */
const DIRECTIVE = /\/\/ @ts-expect-error: (TS\d+) /

interface Expected { file: string, line: number, code: string }

/** Where each fixture says compilation must fail (1-based line of the statement after the directive). */
function expectedErrors (): Expected[] {
  return FIXTURES.flatMap((file) => readFileSync(file, 'utf8').split('\n').flatMap((text, index) => {
    const match = DIRECTIVE.exec(text)
    return match === null ? [] : [{ file, line: index + 2, code: match[1] }]
  }))
}

t.test('the type fixtures compile with tsc (each @ts-expect-error is an error there)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prefs-typed-client-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // The project's compiler options; only the fixtures (and what they import).
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { noEmit: true, incremental: false, typeRoots: [join(ROOT, 'node_modules', '@types')] },
    include: [],
    files: FIXTURES
  }))
  const child = spawn(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 0, `tsc: ${output}`)
  t.ok(expectedErrors().length >= 25, `${expectedErrors().length} places where compilation must fail`)
})

t.test('without the @ts-expect-error directives the fixtures fail, exactly where and how they say', async (t) => {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (diagnostic) => { throw new Error(String(diagnostic.messageText)) }
  })
  if (config === undefined) throw new Error('tsconfig.json could not be read')
  const options = { ...config.options, noEmit: true, incremental: false }
  const host = ts.createCompilerHost(options)
  const readSource = host.getSourceFile.bind(host)
  // The fixtures as they are, the directives renamed into plain comments: lines stay in place.
  host.getSourceFile = (fileName, languageVersion, ...rest) => FIXTURES.includes(fileName)
    ? ts.createSourceFile(fileName, readFileSync(fileName, 'utf8').replaceAll('@ts-expect-error', '@ts-expected-error'), languageVersion)
    : readSource(fileName, languageVersion, ...rest)
  const program = ts.createProgram({ rootNames: FIXTURES, options, host })
  const found = ts.getPreEmitDiagnostics(program).map((diagnostic) => ({
    file: diagnostic.file?.fileName ?? '(no file)',
    line: diagnostic.file === undefined || diagnostic.start === undefined ? 0 : diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1,
    code: `TS${diagnostic.code}`,
    message: ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')
  }))
  const where = (e: { file: string, line: number }) => `${e.file.slice(ROOT.length + 1)}:${e.line}`
  const expected = expectedErrors()
  for (const e of expected) {
    const at = found.filter((f) => f.file === e.file && f.line === e.line)
    t.ok(at.some((f) => f.code === e.code), `${where(e)} fails with ${e.code}: ${at.map((f) => `${f.code} ${f.message}`).join('; ') || 'no error'}`)
  }
  const unexpected = found.filter((f) => !expected.some((e) => e.file === f.file && e.line === f.line))
  t.same(unexpected.map((f) => `${where(f)} ${f.code} ${f.message}`), [], 'no error anywhere else')
  // What the messages say, for a few: the registry's types reach the user.
  const message = (file: string, line: number) => found.find((f) => f.file === file && f.line === line)?.message ?? ''
  const [typebox] = FIXTURES
  const blue = expected.find((e) => e.file === typebox && readFileSync(typebox, 'utf8').split('\n')[e.line - 1].includes("set('theme', 'blue')"))
  t.match(message(typebox, blue?.line ?? 0), /"blue"' is not assignable to parameter of type '"dark" \| "light"'/)
})

// Run time: the same registry on the server, the client typed with it.

type Keys = typeof KEYS

t.test('effective view: sources, locks, the key filter, ETag and NOT_MODIFIED (304)', async (t) => {
  const { as, withToken, calls } = await serve<Keys>(t, { keys: KEYS })
  const five = as(5)
  const admin = withToken(adminToken(99))

  const initial = await five.effective()
  t.match(initial, { rev: 0, etag: ETAG })
  t.same(initial.preferences, {
    theme: { value: 'light', source: 'registry', locked: false },
    layout: { value: { columns: 2 }, source: 'registry', locked: false },
    'billing.plan': { value: 'free', source: 'registry', locked: false }
  }, 'every registered key with a default')
  t.equal(await five.effective({ ifNoneMatch: initial.etag }), NOT_MODIFIED, '304 while nothing changed')

  await five.set('theme', 'dark')
  await five.set('tour.welcome', true)
  await admin.setDefault('site', 'layout', { columns: 3 })
  const view = await five.effective({ ifNoneMatch: initial.etag })
  if (view === NOT_MODIFIED) throw new Error('the view changed')
  t.not(view.etag, initial.etag)
  t.equal(view.rev, 2)
  t.same(view.preferences.theme, { value: 'dark', source: 'user', locked: false })
  t.same(view.preferences.layout, { value: { columns: 3 }, source: 'scope:site', locked: false })
  t.same(view.preferences['tour.welcome'], { value: true, source: 'user', locked: false })

  const filtered = await five.effective({ key: ['theme', 'tour.welcome'] })
  t.same(Object.keys(filtered.preferences).sort(), ['theme', 'tour.welcome'], 'the key filter')
  t.ok(calls.includes('GET /api/v2/user/me/preference/effective/?key=theme&key=tour.welcome'), 'the key parameter repeated')
  t.same(Object.keys((await five.effective({ key: 'theme' })).preferences), ['theme'], 'one key')

  // A lock: the scope's value applies whatever the user stored, and the user may not write it.
  await admin.setDefault('site', 'theme', 'light', { locked: true })
  const locked = await five.effective({ key: 'theme' })
  t.same(locked.preferences.theme, { value: 'light', source: 'scope:site', locked: true })
  await apiError(t, five.set('theme', 'dark'), 403, 'PREFERENCE_KEY_LOCKED', 'writing a locked key')
  t.match(await five.get('theme'), { value: 'dark' }, 'the user\'s value stays, shadowed')

  // Another user's view: an admin may, the user may not.
  t.match(await admin.effective({ userId: 5, key: 'theme' }), { rev: 2, preferences: { theme: { locked: true } } })
  await apiError(t, as(6).effective({ userId: 5 }), 403, 'PREFERENCE_FORBIDDEN', 'someone else\'s view')
})

t.test('scope defaults: list, get (undefined when none), set (created or replaced), delete (false when none)', async (t) => {
  const { as, withToken, calls } = await serve<Keys>(t, { keys: KEYS })
  const admin = withToken(adminToken(99))
  const member = withToken(token({ sub: 5, claims: { groups: ['team-red'] } }))
  const outsider = as(6)

  const first = await admin.setDefault('team-red', 'layout', { columns: 4 }, { locked: true })
  t.match(first, { scope: 'team-red', key: 'layout', value: { columns: 4 }, locked: true, created: true })
  t.match(first.last_updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const again = await admin.setDefault('team-red', 'layout', { columns: 1 })
  t.match(again, { value: { columns: 1 }, locked: false, created: false }, 'replaced; locked back to its default, false')
  await admin.setDefault('team-red', 'theme', 'dark')
  await admin.setDefault('site', 'volume', 5)

  t.same(await member.listDefaults('team-red'), {
    scope: 'team-red',
    results: [
      { scope: 'team-red', key: 'layout', value: { columns: 1 }, locked: false, last_updated_at: again.last_updated_at },
      { scope: 'team-red', key: 'theme', value: 'dark', locked: false, last_updated_at: (await admin.getDefault('team-red', 'theme'))?.last_updated_at }
    ]
  }, 'a member reads the group\'s defaults, ordered by key')
  t.match(await outsider.getDefault('site', 'volume'), { scope: 'site', key: 'volume', value: 5 }, 'anyone signed in reads site')
  t.equal(await member.getDefault('team-red', 'volume'), undefined, 'no default for that key: undefined (404)')
  await apiError(t, outsider.listDefaults('team-red'), 403, 'PREFERENCE_FORBIDDEN', 'a non-member reading a group')
  await apiError(t, member.setDefault('team-red', 'theme', 'light'), 403, 'PREFERENCE_FORBIDDEN', 'a member writing without canManageScope')
  await apiError(t, admin.setDefault('site', 'volume', 11 as number), 400, 'PREFERENCE_VALUE_INVALID', 'a value outside the schema')
  await apiError(t, admin.listDefaults('not a scope'), 400, 'PREFERENCE_INVALID_PATH_PARAMETER', 'a bad scope name')
  await t.rejects(admin.listDefaults('..'), { name: 'TypeError', message: /the scope "\.\." cannot be a path segment/ })
  await t.rejects(admin.getDefault('', 'theme'), TypeError)

  // The defaults apply to the member.
  const view = await member.effective({ key: ['theme', 'layout', 'volume'] })
  t.same(view.preferences, {
    theme: { value: 'dark', source: 'scope:team-red', locked: false },
    layout: { value: { columns: 1 }, source: 'scope:team-red', locked: false },
    volume: { value: 5, source: 'scope:site', locked: false }
  })

  t.equal(await admin.deleteDefault('team-red', 'theme'), true)
  t.equal(await admin.deleteDefault('team-red', 'theme'), false, 'gone: false (404)')
  t.equal(await admin.getDefault('team-red', 'theme'), undefined)
  t.same((await admin.listDefaults('team-red')).results.map((d) => d.key), ['layout'])
  t.ok(calls.includes('PUT /api/v2/preference-defaults/team-red/by-key/layout/'))
  t.ok(calls.includes('DELETE /api/v2/preference-defaults/team-red/by-key/theme/'))
})

t.test('changes: pages of revisions, and 410 PREFERENCE_CHANGES_EXPIRED as a PreferencesApiError', async (t) => {
  const { as, withToken, calls } = await serve<Keys>(t, { keys: KEYS, changeLog: { maxRevisions: 3 } })
  const five = as(5)
  t.same(await five.changes(), { rev: 0, results: [], next: null }, 'nothing yet')
  await five.set('theme', 'dark')
  await five.set('volume', 4)
  await five.merge({ theme: null, 'tour.a': true })

  const all = await five.changes()
  t.equal(all.rev, 3)
  t.same(all.results.map((r) => [r.rev, r.actor, r.changes.map((c) => [c.op, c.key, c.value])]), [
    [1, { id: 5, admin: false }, [['set', 'theme', 'dark']]],
    [2, { id: 5, admin: false }, [['set', 'volume', 4]]],
    [3, { id: 5, admin: false }, [['delete', 'theme', undefined], ['set', 'tour.a', true]]]
  ])
  const page = await five.changes({ since: 1, limit: 1 })
  t.same(page.results.map((r) => r.rev), [2])
  t.match(page.next, /\/api\/v2\/user\/me\/preference\/changes\/\?since=2&limit=1$/)
  t.ok(calls.includes('GET /api/v2/user/me/preference/changes/?since=1&limit=1'))
  t.same((await five.changes({ since: 3 })).results, [], 'up to date')

  const ahead = await apiError(t, five.changes({ since: 4 }), 410, 'PREFERENCE_CHANGES_EXPIRED', 'since beyond the current revision')
  t.match(ahead?.message, /list the preferences again/)
  await five.set('volume', 5)
  await apiError(t, five.changes({ since: 0 }), 410, 'PREFERENCE_CHANGES_EXPIRED', 'revision 1 is no longer kept (maxRevisions 3)')
  t.same((await five.changes({ since: 1 })).results.map((r) => r.rev), [2, 3, 4], 'what is kept')
  await apiError(t, as(6).changes({ userId: 5 }), 403, 'PREFERENCE_FORBIDDEN', 'someone else\'s changes')
  t.equal((await withToken(adminToken(99)).changes({ userId: 5, since: 3 })).rev, 4, 'an admin reads them')

  await five.erase()
  await apiError(t, five.changes({ since: 2 }), 410, 'PREFERENCE_CHANGES_EXPIRED', 'after an erasure')
  t.match(await five.changes({ since: 4 }), { rev: 5, results: [{ rev: 5, erased: true, changes: [] }] })
})

t.test('history of a key, newest first; empty for a key never set', async (t) => {
  const { as, calls } = await serve<Keys>(t, { keys: KEYS })
  const five = as(5)
  await five.set('theme', 'dark')
  await five.set('volume', 1)
  await five.set('theme', 'light')
  await five.delete('theme')
  const { results } = await five.history('theme')
  t.same(results.map((e) => [e.rev, e.op, e.value, e.actor]), [
    [4, 'delete', undefined, { id: 5, admin: false }],
    [3, 'set', 'light', { id: 5, admin: false }],
    [1, 'set', 'dark', { id: 5, admin: false }]
  ])
  t.match(results[0].at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.same(await five.history('tour.never'), { results: [] })
  await five.set('a/b c', 1)
  t.same((await five.history('a/b c')).results.map((e) => e.value), [1])
  t.ok(calls.includes('GET /api/v2/user/me/preference/by-key/a%2Fb%20c/history/'), 'the key as one segment, then history/')
  await apiError(t, as(6).history('theme', { userId: 5 }), 403, 'PREFERENCE_FORBIDDEN', 'someone else\'s history')
})

t.test('typed writes against the registry: 200/201, 304, 412, 404, and the registry\'s own refusals', async (t) => {
  const { as, withToken } = await serve<Keys>(t, { keys: KEYS })
  const five = as(5)
  const device2 = as(5)

  const created = await five.set('layout', { columns: 2 })
  t.match(created, { value: { columns: 2 }, created: true, etag: ETAG })
  t.equal(await five.get('layout', { ifNoneMatch: created.etag }), NOT_MODIFIED, '304')
  const replaced = written(await device2.set('layout', { columns: 3, dense: true }, { ifMatch: created.etag }))
  t.match(replaced, { value: { columns: 3, dense: true }, created: false })
  t.equal(await five.set('layout', { columns: 4 }, { ifMatch: created.etag }), PRECONDITION_FAILED, '412: a stale ETag')
  t.equal(await five.set('layout', { columns: 4 }, { ifNoneMatch: '*' }), PRECONDITION_FAILED, '412: create only, but it exists')
  t.equal(await five.delete('layout', { ifNoneMatch: '*' }), PRECONDITION_FAILED, '412: delete with If-None-Match: * of what exists')
  t.equal(await five.patchById(created.id, { value: { columns: 1 } }, { ifNoneMatch: replaced.etag }), PRECONDITION_FAILED,
    '412: If-None-Match of the current ETag on a patch')
  t.match(await five.get('layout'), { value: { columns: 3, dense: true }, etag: replaced.etag }, 'none of them wrote')

  const counted = await five.update('volume', (volume) => (volume ?? 0) + 1)
  t.match(counted, { value: 1, created: true })
  t.match(await five.update('volume', (volume) => (volume ?? 0) + 1), { value: 2, created: false })

  t.equal(await five.get('tour.never'), undefined, '404: not set')
  t.equal(await five.delete('tour.never'), false, '404: nothing to delete')
  await apiError(t, five.getById(999_999), 404, 'PREFERENCE_NOT_FOUND', 'by id: an error')

  // What the types keep out, the server refuses too (casts stand for untyped data).
  await apiError(t, five.set('theme', 'blue' as 'dark'), 400, 'PREFERENCE_VALUE_INVALID', 'a value outside the enum')
  await apiError(t, five.merge({ 'tour.x': 'yes' as unknown as boolean }), 400, 'PREFERENCE_VALUE_INVALID', 'a merge patch')
  await apiError(t, five.set('billing.plan', 'pro'), 403, 'PREFERENCE_KEY_READ_ONLY', 'an admin-only key')
  t.match(await withToken(adminToken(99)).set('billing.plan', 'pro', { userId: 5 }), { value: 'pro', created: true })
  t.match(await five.get('billing.plan'), { value: 'pro' }, 'readable by the user')
  t.same((await five.list()).results.map((p) => p.key).sort(), ['billing.plan', 'layout', 'volume'], 'nothing else was written')
})
