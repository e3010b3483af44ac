// The typed client against a running API (the standalone server, or examples/host-app.ts).
//
//   PREFERENCES_URL=http://127.0.0.1:3000/api/v2 TOKEN=<a token> node --import tsx examples/client.ts
//
// In your application, import from 'fastify-user-preferences/client' instead of '../client.js'.
import { pathToFileURL } from 'node:url'
import {
  createPreferencesClient, NOT_MODIFIED, PRECONDITION_FAILED, type Preference, PreferencesApiError
} from '../client/index.js'

export interface ExampleOptions {
  baseUrl: string
  token: string
  log?: (line: string) => void
}

export async function run ({ baseUrl, token, log = console.log }: ExampleOptions): Promise<Preference[]> {
  const preferences = createPreferencesClient({ baseUrl, token })

  // By key: set creates or replaces, and says which.
  const theme = await preferences.set('theme', { mode: 'dark' })
  log(`${theme.created ? 'created' : 'replaced'} "${theme.key}" (#${theme.id}) for user ${theme.user_id}`)

  // A write that must not undo another device's: If-Match with the ETag that was read.
  const light = await preferences.set('theme', { mode: 'light' }, { ifMatch: theme.etag })
  if (light === PRECONDITION_FAILED) log('"theme" was changed elsewhere meanwhile: read it again')
  else log(`changed "${light.key}" to ${JSON.stringify(light.value)}`)

  // Or let update() read, compute and write, and do it again when another write came first.
  const visits = await preferences.update('visits', (count) => (typeof count === 'number' ? count : 0) + 1)
  log(`"visits" is now ${JSON.stringify(visits.value)}`)

  await preferences.create({ key: 'language', value: 'fr' })
  try {
    await preferences.create({ key: 'language', value: 'de' })
  } catch (error) {
    // Every error answer is a PreferencesApiError with the API's code.
    if (!(error instanceof PreferencesApiError) || error.code !== 'PREFERENCE_KEY_EXISTS') throw error
    log(`a second "language" is refused: ${error.status} ${error.code}`)
  }

  // Several keys in one request, all or nothing (a JSON merge patch: null deletes).
  const { results, deleted } = await preferences.merge({ language: 'en', visits: null })
  log(`merged: set ${results.map((p) => p.key).join(', ')}; deleted ${deleted.join(', ')}`)

  const page = await preferences.list({ limit: 10 })
  log(`user ${theme.user_id} has ${page.count} preferences: ${page.results.map((p) => p.key).join(', ')}`)
  // Asked again with its ETag: NOT_MODIFIED (a 304, no body) while nothing changed.
  const again = await preferences.list({ limit: 10, ifNoneMatch: page.etag })
  log(again === NOT_MODIFIED ? 'the list is unchanged (304)' : 'the list changed meanwhile')

  await preferences.delete('theme')
  log('deleted "theme"')
  return (await preferences.list()).results
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const token = process.env.TOKEN
  if (token === undefined) {
    process.stderr.write('Set TOKEN (and PREFERENCES_URL, default http://127.0.0.1:3000/api/v2)\n')
    process.exit(2)
  }
  await run({ baseUrl: process.env.PREFERENCES_URL ?? 'http://127.0.0.1:3000/api/v2', token })
}
