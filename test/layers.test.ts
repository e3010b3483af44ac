import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// The import direction of the library's folders, checked on the sources: each layer imports
// only from the layers below it, so that any one of them can be read without those above.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** A layer and the layers (folders) it may import from, itself included. */
const LAYERS: Record<string, string[]> = {
  lib: ['lib'],
  schemas: ['lib', 'schemas'],
  'db/direct': ['db/direct'],
  db: ['lib', 'schemas', 'db', 'db/direct'],
  store: ['lib', 'schemas', 'db', 'store'],
  options: ['lib', 'schemas', 'db', 'store', 'options'],
  routes: ['lib', 'schemas', 'db', 'store', 'options', 'routes'],
  plugins: ['lib', 'schemas', 'db', 'store', 'options', 'routes', 'plugins'],
  'index.ts': ['lib', 'schemas', 'db', 'store', 'options', 'routes', 'plugins'],
  client: ['client']
}

/** Packages a layer must not import at run time. */
const FORBIDDEN_PACKAGES: Record<string, RegExp> = {
  lib: /^(fastify|fastify-plugin|@fastify\/.*|kysely|pg|better-sqlite3)$/,
  schemas: /^(fastify|fastify-plugin|kysely|pg|better-sqlite3)$/,
  db: /^(fastify|fastify-plugin)$/,
  'db/direct': /^(fastify|fastify-plugin)$/,
  store: /^(fastify|fastify-plugin)$/,
  // The client runs in browsers: nothing but its own modules.
  client: /./
}

interface Import { specifier: string, typeOnly: boolean }

function importsOf (source: string): Import[] {
  const found: Import[] = []
  for (const match of source.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'([^']+)'/gms)) {
    found.push({ specifier: match[2], typeOnly: match[1] !== undefined })
  }
  for (const match of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) found.push({ specifier: match[1], typeOnly: false })
  return found
}

function sourcesUnder (dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
}

/** The layer a repository-relative path belongs to ('db/direct' before 'db'). */
function layerOf (path: string): string {
  if (path === 'index.ts') return 'index.ts'
  if (path.startsWith('db/direct/')) return 'db/direct'
  return path.split('/')[0]
}

const files = ['index.ts', ...['lib', 'schemas', 'db', 'store', 'options', 'routes', 'plugins', 'client'].flatMap(sourcesUnder)]

t.test('each layer imports only from the layers below it', async (t) => {
  const problems: string[] = []
  let checked = 0
  for (const file of files) {
    const layer = layerOf(file)
    for (const { specifier, typeOnly } of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      checked++
      if (specifier.startsWith('.')) {
        const target = relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts')
        const targetLayer = layerOf(target)
        // The browser client may take types (erased at build) from the schemas.
        const allowed = LAYERS[layer].includes(targetLayer) || (layer === 'client' && typeOnly && targetLayer === 'schemas') ||
          // db/direct needs the table types.
          (layer === 'db/direct' && target === 'db/types.ts')
        if (!allowed) problems.push(`${file} (${layer}) imports ${target} (${targetLayer})`)
      } else if (!typeOnly && !specifier.startsWith('node:') && FORBIDDEN_PACKAGES[layer]?.test(specifier)) {
        problems.push(`${file} (${layer}) imports the package ${specifier}`)
      } else if (layer === 'client' && specifier.startsWith('node:')) {
        problems.push(`${file} (client) imports ${specifier}`)
      }
    }
  }
  t.ok(checked > 100, `imports were found (${checked})`)
  t.same(problems, [], 'no import against the direction')
})

t.test('nothing in the library imports the standalone server', async (t) => {
  const offenders = files.filter((file) => importsOf(readFileSync(join(ROOT, file), 'utf8'))
    .some(({ specifier }) => specifier.startsWith('.') && relative(ROOT, resolve(ROOT, dirname(file), specifier)).startsWith('server/')))
  t.same(offenders, [])
})

t.test('the checker sees a wrong import', async (t) => {
  t.same(importsOf("import { x } from '../plugins/a.js'\nimport type {\n  Y\n} from './b.js'\nexport { z } from 'fastify'\n"), [
    { specifier: '../plugins/a.js', typeOnly: false },
    { specifier: './b.js', typeOnly: true },
    { specifier: 'fastify', typeOnly: false }
  ])
})
