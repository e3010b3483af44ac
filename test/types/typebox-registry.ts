// The client typed from a TypeBox registry (test/keys-fixture.ts). Each `@ts-expect-error`
// line must fail to compile, with the TS error code it names; test/typed-client.test.ts checks
// both that this file compiles and that it does not once the directives are taken out.
import {
  createPreferencesClient, NOT_MODIFIED, PRECONDITION_FAILED, PreferencesApiError, type PreferencesClient
} from '../../client/index.js'
import type { KEYS } from '../keys-fixture.js'
import { type Equal, expectType, use } from './assert.js'

type Keys = typeof KEYS
type Layout = { columns: number, dense?: boolean }

const client = createPreferencesClient<Keys>({ baseUrl: 'https://example.com/api/v2', token: 'a token' })
export const asInterface: PreferencesClient<Keys> = client

export async function byKey (): Promise<void> {
  const theme = await client.get('theme')
  expectType<Equal<NonNullable<typeof theme>['value'], 'light' | 'dark'>>(theme)
  expectType<Equal<NonNullable<typeof theme>['etag'], string>>()
  const layout = await client.get('layout')
  expectType<Equal<NonNullable<typeof layout>['value'], Layout>>(layout)
  // A pattern's type; the longest matching pattern wins; an exact key beats a pattern.
  expectType<Equal<NonNullable<Awaited<ReturnType<typeof client.get<'tour.welcome'>>>>['value'], boolean>>()
  expectType<Equal<NonNullable<Awaited<ReturnType<typeof client.get<'tour.special.x'>>>>['value'], number>>()
  expectType<Equal<NonNullable<Awaited<ReturnType<typeof client.get<'tour.exact'>>>>['value'], string>>()
  // A key the registry does not name: any JSON.
  const free = await client.get('editor/font size')
  expectType<Equal<NonNullable<typeof free>['value'], unknown>>(free)
  // A key only known at run time: its type cannot be known either.
  const someKey: string = String(Math.random())
  expectType<Equal<NonNullable<Awaited<ReturnType<typeof client.get<typeof someKey>>>>['value'], unknown>>()

  const saved = await client.set('theme', 'dark')
  expectType<Equal<typeof saved['value'], 'light' | 'dark'>>()
  expectType<Equal<typeof saved['created'], boolean>>()
  // @ts-expect-error: TS2345 theme is 'light' | 'dark'
  await client.set('theme', 'blue')
  await client.set('layout', { columns: 2, dense: true })
  // @ts-expect-error: TS2322 columns is a number
  await client.set('layout', { columns: '2' })
  // @ts-expect-error: TS2345 columns is required
  await client.set('layout', { dense: true })
  await client.set('tour.welcome', true)
  // @ts-expect-error: TS2345 tour.* holds booleans
  await client.set('tour.welcome', 'yes')
  await client.set('tour.special.step', 3)
  // @ts-expect-error: TS2345 tour.special.* (the longer pattern) holds integers, not tour.*'s booleans
  await client.set('tour.special.step', true)
  await client.set('editor/font size', { anything: ['json', 1, null] })
  const free2: unknown = await client.set(someKey, 'a key of any name takes any value')
  expectType<Equal<typeof free2, unknown>>(free2)

  const counted = await client.update('volume', (volume) => (volume ?? 0) + 1)
  expectType<Equal<typeof counted['value'], number>>(counted)
  // @ts-expect-error: TS2322 volume is a number: the updater must return one
  await client.update('volume', (volume) => String(volume))

  // Conditional outcomes only where the option is passed.
  const cached = await client.get('theme', { ifNoneMatch: saved.etag })
  if (cached !== NOT_MODIFIED) expectType<Equal<NonNullable<typeof cached>['value'], 'light' | 'dark'>>()
  const written = await client.set('theme', 'light', { ifMatch: saved.etag })
  // @ts-expect-error: TS2551 with ifMatch the result may be PRECONDITION_FAILED: compare first
  expectType<Equal<typeof written.value, 'light' | 'dark'>>()
  if (written !== PRECONDITION_FAILED) expectType<Equal<typeof written.value, 'light' | 'dark'>>()
  const deleted = await client.delete('theme', { ifNoneMatch: '*' })
  expectType<Equal<typeof deleted, boolean | typeof PRECONDITION_FAILED>>(deleted)
}

export async function wholeSet (): Promise<void> {
  await client.merge({ theme: 'dark', 'tour.seen': true, layout: { dense: null }, legacy: null, free: { a: 1 } })
  // @ts-expect-error: TS2322 a merge patch is checked key by key
  await client.merge({ theme: 'blue' })
  // @ts-expect-error: TS2322 tour.* holds booleans
  await client.merge({ 'tour.seen': 1 })

  await client.import({ preferences: { theme: 'dark', 'tour.seen': false, free: [1, 2] } })
  await client.import(await client.export(), { mode: 'replace', dryRun: true })
  // @ts-expect-error: TS2345 an import's values are checked key by key
  await client.import({ preferences: { theme: 'blue' } })

  const created = await client.create({ key: 'volume', value: 3 })
  expectType<Equal<typeof created['value'], number>>()
  // @ts-expect-error: TS2322 volume is a number
  await client.create({ key: 'volume', value: 'loud' })
  // @ts-expect-error: TS2322 a key is a string
  await client.create({ key: 5, value: 1 })
  await client.replaceById(created.id, { key: 'theme', value: 'light' })
  // @ts-expect-error: TS2322 the new key's type applies
  await client.replaceById(created.id, { key: 'theme', value: 3 })
  // By id without a key, the value cannot be typed.
  const patched = await client.patchById(created.id, { value: 'anything' })
  expectType<Equal<typeof patched['value'], unknown>>(patched)
}

export async function effective (): Promise<void> {
  const view = await client.effective()
  expectType<Equal<typeof view['rev'], number>>()
  expectType<Equal<typeof view['etag'], string>>()
  // A key with a registry default always has a value; one without may hold null (a stored
  // value that no longer fits, and nothing else applies).
  expectType<Equal<NonNullable<typeof view.preferences.theme>['value'], 'light' | 'dark'>>()
  expectType<Equal<NonNullable<typeof view.preferences.volume>['value'], number | null>>()
  expectType<Equal<NonNullable<typeof view.preferences['editor/font size']>['value'], unknown>>()
  const entry = view.preferences.theme
  if (entry !== undefined) {
    const source: string = entry.source
    const locked: boolean = entry.locked
    const invalid: true | undefined = entry.user_value_invalid
    use(source, locked, invalid)
  }
  // @ts-expect-error: TS2367 without ifNoneMatch it cannot answer NOT_MODIFIED
  if (view === NOT_MODIFIED) throw new Error('never')
  const again = await client.effective({ key: ['theme', 'layout'], ifNoneMatch: view.etag })
  // @ts-expect-error: TS2339 with ifNoneMatch it may be NOT_MODIFIED: compare first
  use(again.preferences)
  if (again !== NOT_MODIFIED) use(again.preferences)
}

export async function history (): Promise<void> {
  const { results } = await client.history('theme')
  expectType<Equal<typeof results[number]['value'], 'light' | 'dark' | undefined>>()
  expectType<Equal<typeof results[number]['op'], 'set' | 'delete'>>()
  expectType<Equal<typeof results[number]['rev'], number>>(results)
  const page = await client.changes({ since: 3, limit: 10 })
  expectType<Equal<typeof page['next'], string | null>>()
  expectType<Equal<typeof page['results'][number]['changes'][number]['op'], 'set' | 'delete'>>(page)
  try {
    await client.changes({ since: 1 })
  } catch (error) {
    if (error instanceof PreferencesApiError && error.code === 'PREFERENCE_CHANGES_EXPIRED') use(error.status)
    // @ts-expect-error: TS2367 the code is a closed union of the documented codes
    if (error instanceof PreferencesApiError && error.code === 'PREFERENCE_CHANGES_GONE') use(error.status)
  }
}

export async function scopeDefaults (): Promise<void> {
  const set = await client.setDefault('site', 'theme', 'dark', { locked: true })
  expectType<Equal<typeof set['value'], 'light' | 'dark'>>()
  expectType<Equal<typeof set['created'], boolean>>(set)
  // @ts-expect-error: TS2345 a scope's default has the key's type
  await client.setDefault('site', 'theme', 'blue')
  const one = await client.getDefault('team-red', 'layout')
  expectType<Equal<NonNullable<typeof one>['value'], Layout>>(one)
  const all = await client.listDefaults('site')
  expectType<Equal<typeof all['results'][number]['value'], unknown>>(all)
  const removed: boolean = await client.deleteDefault('site', 'theme')
  use(removed)
}

export async function untyped (): Promise<void> {
  // Without a type argument, as before: any key, any value.
  const plain = createPreferencesClient({ baseUrl: 'https://example.com/api/v2' })
  const theme = await plain.set('theme', 'blue')
  expectType<Equal<typeof theme['value'], unknown>>(theme)
  await plain.merge({ theme: 'blue', 'tour.x': 'yes' })
  const view = await plain.effective()
  expectType<Equal<NonNullable<typeof view.preferences.theme>['value'], unknown>>(view)
  const asBefore: PreferencesClient = plain
  use(asBefore)
}

// The assertions themselves can fail.
// @ts-expect-error: TS2344 string is not unknown
expectType<Equal<string, unknown>>()
// @ts-expect-error: TS2344 a union is not one of its members
expectType<Equal<'light' | 'dark', 'light'>>()
