import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { KeyRegistry } from '../index.js'
import { type AssetName, settingsAssets } from './settings-assets.js'

export interface SettingsPageOptions {
  /** Where the API is mounted, e.g. `/api/v2`. */
  apiPrefix: string
  /** The key registry the plugin was given: the page makes its form from these schemas. */
  keys?: KeyRegistry
  unknownKeys?: 'allow' | 'reject'
  /** Where built assets are looked for (default: beside the compiled server). */
  assetsDir?: string
}

/**
 * Only the page's own script, style sheet and API calls: no inline script or style, no other
 * origin, no framing. The token lives in the fragment and in JavaScript, so script injection is
 * what must not happen.
 */
export const SETTINGS_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self'",
  "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'"
].join('; ')

const escapeAttribute = (text: string): string => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')

function pageHtml (apiPrefix: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="preferences-api" content="${escapeAttribute(apiPrefix)}">
<title>Settings</title>
<link rel="stylesheet" href="app.css">
<script type="module" src="app.js"></script>
</head>
<body>
<main>
<h1>Settings</h1>
<p id="status" role="status">Loading…</p>
<form id="settings" novalidate></form>
</main>
</body>
</html>
`
}

/** The registry as the page reads it: JSON Schemas (TypeBox's symbols dropped), defaults, descriptions. */
function registryJson (keys: KeyRegistry = {}, unknownKeys: 'allow' | 'reject' = 'allow'): string {
  const entries = Object.entries(keys).map(([name, definition]) => [name, {
    schema: definition.schema,
    ...(definition.default !== undefined && { default: definition.default }),
    ...(definition.description !== undefined && { description: definition.description }),
    writable: definition.writable ?? 'user'
  }])
  return JSON.stringify({ unknownKeys, keys: Object.fromEntries(entries) })
}

const TYPES: Record<AssetName, string> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' }
// Not part of the API: kept out of the OpenAPI document.
const hidden = (description: string) => ({ hide: true, tags: ['settings'], response: { 200: Type.String({ description }) } })

/**
 * The settings page, under the prefix it is registered with (`/settings`): the page, its
 * bundle, and the registry it builds its form from. The registry is public here as it is in
 * the OpenAPI document (/documentation/json), which describes every registered key.
 */
const settingsPage: FastifyPluginAsync<SettingsPageOptions> = async (fastify, options) => {
  const html = pageHtml(options.apiPrefix)
  const registry = registryJson(options.keys, options.unknownKeys)

  fastify.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('content-security-policy', SETTINGS_CSP)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cache-control', 'no-cache')
    done(null, payload)
  })

  // Relative URLs (app.js, keys.json) need the trailing slash.
  fastify.get('', { prefixTrailingSlash: 'no-slash', schema: { hide: true, tags: ['settings'], response: { 308: Type.Null({ description: 'To /settings/' }) } } },
    async (_request, reply) => reply.redirect(`${fastify.prefix}/`, 308))
  fastify.get('/', { prefixTrailingSlash: 'slash', schema: hidden('The settings page') },
    async (_request, reply) => reply.type('text/html; charset=utf-8').send(html))
  fastify.get('/keys.json', { schema: hidden('The key registry: { unknownKeys, keys: { <key or pattern>: { schema, default?, description?, writable } } }') },
    async (_request, reply) => reply.type('application/json; charset=utf-8').send(registry))
  for (const name of Object.keys(TYPES) as AssetName[]) {
    fastify.get(`/${name}`, { schema: hidden(`The page's ${name}`) }, async (_request, reply) => {
      const assets = await settingsAssets(options.assetsDir)
      return reply.type(TYPES[name]).send(assets[name])
    })
  }
}

export default settingsPage
