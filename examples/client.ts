// The typed client against a running API (the standalone server, or examples/host-app.ts).
//
//   PREFERENCES_URL=http://127.0.0.1:3000/api/v2 TOKEN=<a token> node --import tsx examples/client.ts
//
// In your application, import from 'fastify-user-preferences/client' instead of '../client.js'.
import { pathToFileURL } from 'node:url'
import { createPreferencesClient, type Preference, PreferencesApiError } from '../client/index.js'

export interface ExampleOptions {
  baseUrl: string
  token: string
  log?: (line: string) => void
}

export async function run ({ baseUrl, token, log = console.log }: ExampleOptions): Promise<Preference[]> {
  const preferences = createPreferencesClient({ baseUrl, token })

  const theme = await preferences.create({ key: 'theme', value: { mode: 'dark' } })
  log(`created "${theme.key}" (#${theme.id}) for user ${theme.user_id}`)

  const light = await preferences.update(theme.id, { value: { mode: 'light' } })
  log(`changed "${light.key}" to ${JSON.stringify(light.value)}`)

  await preferences.create({ key: 'language', value: 'fr' })

  try {
    await preferences.create({ key: 'theme', value: 'again' })
  } catch (error) {
    // Every error answer is a PreferencesApiError with the API's code.
    if (!(error instanceof PreferencesApiError) || error.code !== 'PREFERENCE_KEY_EXISTS') throw error
    log(`a second "theme" is refused: ${error.status} ${error.code}`)
  }

  const page = await preferences.list({ limit: 10 })
  log(`user ${theme.user_id} has ${page.count} preferences: ${page.results.map((p) => p.key).join(', ')}`)

  await preferences.delete(theme.id)
  log(`deleted "${theme.key}"`)
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
