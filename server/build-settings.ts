import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BUILT_ASSETS_DIR, bundleSettingsPage } from './settings-assets.js'

// `npm run build`'s last step: the settings page's bundle into dist/server/settings-assets/
// (or the directory given), which the compiled server serves.

const dir = process.argv[2] ?? BUILT_ASSETS_DIR
const assets = await bundleSettingsPage()
mkdirSync(dir, { recursive: true })
for (const [name, text] of Object.entries(assets)) writeFileSync(join(dir, name), text)
