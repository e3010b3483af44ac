import { Type } from '@sinclair/typebox'
import { defineKeys } from '../index.js'
import { createPreferencesClient } from '../client/index.js'
declare const getToken: () => string
export const keys = defineKeys({
  theme: { schema: Type.Union([Type.Literal('light'), Type.Literal('dark')]), default: 'light' },
  'tour.*': { schema: Type.Boolean() }
})
const preferences = createPreferencesClient<typeof keys>({ baseUrl: '/api/v2', token: getToken })
const theme = await preferences.get('theme')
const v: 'light' | 'dark' | undefined = theme?.value
await preferences.set('tour.welcome', true)
await preferences.merge({ theme: 'dark', 'tour.intro': null })
// @ts-expect-error: blue
await preferences.set('theme', 'blue')
await preferences.set('editor.font', { size: 14 })
const view = await preferences.effective()
const w: 'light' | 'dark' | undefined = view.preferences.theme?.value
export { v, w }
