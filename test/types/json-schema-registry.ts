// The client typed from a registry of plain JSON Schema written `as const` (what a frontend
// keeps of the server's KEYS_FILE, examples/keys.json). Each `@ts-expect-error` line must fail
// to compile with the TS error code it names (test/typed-client.test.ts).
import { createPreferencesClient, type JsonSchemaValue } from '../../client/index.js'
import { type Equal, expectType } from './assert.js'

export const keys = {
  theme: { schema: { enum: ['light', 'dark', 'system'] }, default: 'system', description: 'Colour theme' },
  layout: {
    schema: {
      type: 'object',
      properties: { columns: { type: 'integer', minimum: 1, maximum: 4 }, dense: { type: 'boolean' } },
      required: ['columns'],
      additionalProperties: false
    },
    default: { columns: 2 }
  },
  'tour.*': { schema: { type: 'boolean' } },
  'notifications.email': { schema: { type: 'boolean' }, default: true },
  'billing.plan': { schema: { type: 'string' }, default: 'free', writable: 'admin' },
  // Further forms: a list of types, arrays, const, anyOf, open objects, nesting.
  nickname: { schema: { type: ['string', 'null'], maxLength: 40 } },
  recent: { schema: { type: 'array', items: { type: 'string' }, maxItems: 10 } },
  version: { schema: { const: 2 } },
  zoom: { schema: { anyOf: [{ type: 'number' }, { enum: ['fit', 'fill'] }] } },
  shortcuts: { schema: { type: 'object', additionalProperties: { type: 'string' } } },
  panel: {
    schema: {
      type: 'object',
      properties: { size: { type: 'object', properties: { w: { type: 'number' }, h: { type: 'number' } }, required: ['w', 'h'] } }
    }
  },
  anything: { schema: {} }
} as const

const client = createPreferencesClient<typeof keys>({ baseUrl: 'https://example.com/api/v2' })

type ValueOfKey<K extends string> = NonNullable<Awaited<ReturnType<typeof client.get<K>>>>['value']

expectType<Equal<ValueOfKey<'theme'>, 'light' | 'dark' | 'system'>>()
expectType<Equal<ValueOfKey<'layout'>, { columns: number, dense?: boolean }>>()
expectType<Equal<ValueOfKey<'tour.welcome'>, boolean>>()
expectType<Equal<ValueOfKey<'notifications.email'>, boolean>>()
expectType<Equal<ValueOfKey<'billing.plan'>, string>>()
expectType<Equal<ValueOfKey<'nickname'>, string | null>>()
expectType<Equal<ValueOfKey<'recent'>, string[]>>()
expectType<Equal<ValueOfKey<'version'>, 2>>()
expectType<Equal<ValueOfKey<'zoom'>, number | 'fit' | 'fill'>>()
expectType<Equal<ValueOfKey<'shortcuts'>, { [name: string]: string }>>()
expectType<Equal<ValueOfKey<'panel'>, { size?: { w: number, h: number, [name: string]: unknown }, [name: string]: unknown }>>()
expectType<Equal<ValueOfKey<'anything'>, unknown>>()
expectType<Equal<ValueOfKey<'not.registered'>, unknown>>()
// A schema read from a JSON file without `as const` is widened by TypeScript: what is left.
expectType<Equal<JsonSchemaValue<{ enum: string[] }>, string>>()
expectType<Equal<JsonSchemaValue<{ type: string }>, unknown>>()

export async function writes (): Promise<void> {
  await client.set('theme', 'system')
  // @ts-expect-error: TS2345 not one of the enum's values
  await client.set('theme', 'blue')
  await client.set('layout', { columns: 3 })
  // @ts-expect-error: TS2353 additionalProperties: false
  await client.set('layout', { columns: 3, extra: true })
  // @ts-expect-error: TS2345 columns is required
  await client.set('layout', {})
  await client.set('nickname', null)
  // @ts-expect-error: TS2345 a string or null
  await client.set('nickname', 5)
  await client.set('recent', ['a', 'b'])
  // @ts-expect-error: TS2322 items are strings
  await client.set('recent', ['a', 1])
  // @ts-expect-error: TS2345 const 2
  await client.set('version', 3)
  await client.set('zoom', 'fit')
  await client.set('zoom', 1.5)
  // @ts-expect-error: TS2345 a number, 'fit' or 'fill'
  await client.set('zoom', 'stretch')
  await client.set('panel', { size: { w: 1, h: 2 }, other: 'allowed: the object is open' })
  // @ts-expect-error: TS2741 h is required
  await client.set('panel', { size: { w: 1 } })
  await client.setDefault('site', 'notifications.email', false, { locked: true })
  // @ts-expect-error: TS2345 a boolean
  await client.setDefault('site', 'notifications.email', 'no')
  await client.merge({ layout: { dense: true }, 'tour.intro': false, nickname: null })
  // @ts-expect-error: TS2322 a merge patch of a boolean is a boolean (or null)
  await client.merge({ 'tour.intro': 'seen' })

  const view = await client.effective()
  expectType<Equal<NonNullable<typeof view.preferences.theme>['value'], 'light' | 'dark' | 'system'>>()
  expectType<Equal<NonNullable<typeof view.preferences.nickname>['value'], string | null>>()
  expectType<Equal<NonNullable<typeof view.preferences.recent>['value'], string[] | null>>(view)
}
