import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The settings page's script and style sheet: bundled from server/settings/ (with the browser
// client) by esbuild. `npm run build` writes them beside the compiled server, so that
// `npm start` serves files and needs no esbuild at run time; run from the sources (tsx, the
// tests), the server bundles them in memory on first use.

export const ASSET_NAMES = ['app.js', 'app.css'] as const
export type AssetName = typeof ASSET_NAMES[number]
export type SettingsAssets = Record<AssetName, string>

/** Where `npm run build` puts the bundle: dist/server/settings-assets/. */
export const BUILT_ASSETS_DIR = fileURLToPath(new URL('./settings-assets/', import.meta.url))

/** server/settings/, from server/ (the sources) or from dist/server/ (compiled). */
function sourcesDir (): string {
  for (const candidate of ['./settings/', '../../server/settings/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url))
    if (existsSync(join(dir, 'app.ts'))) return dir
  }
  throw new Error('the settings page\'s sources (server/settings/app.ts) are not there: run `npm run build` in a checkout')
}

/** Bundles the page with esbuild (a devDependency, imported only when this runs). */
export async function bundleSettingsPage (): Promise<SettingsAssets> {
  const { build } = await import('esbuild')
  const dir = sourcesDir()
  const result = await build({
    entryPoints: [join(dir, 'app.ts'), join(dir, 'app.css')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    outdir: 'out',
    logLevel: 'silent'
  })
  const assets: Partial<SettingsAssets> = {}
  for (const file of result.outputFiles) {
    const name = file.path.split(/[\\/]/).pop() as AssetName
    if (ASSET_NAMES.includes(name)) assets[name] = file.text
  }
  for (const name of ASSET_NAMES) if (assets[name] === undefined) throw new Error(`esbuild made no ${name}`)
  return assets as SettingsAssets
}

const loaded = new Map<string, Promise<SettingsAssets>>()

/** The built files in `dir` when they are there, else a bundle made now; once per process. */
export async function settingsAssets (dir: string = BUILT_ASSETS_DIR): Promise<SettingsAssets> {
  let assets = loaded.get(dir)
  if (assets === undefined) {
    assets = ASSET_NAMES.every((name) => existsSync(join(dir, name)))
      ? Promise.resolve(Object.fromEntries(ASSET_NAMES.map((name) => [name, readFileSync(join(dir, name), 'utf8')])) as SettingsAssets)
      : bundleSettingsPage()
    loaded.set(dir, assets)
    // A failed bundle is tried again on the next request.
    assets.catch(() => loaded.delete(dir))
  }
  return assets
}
