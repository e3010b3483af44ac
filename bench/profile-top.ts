// npx tsx bench/profile-top.ts <file.cpuprofile> [rows]
// Where a V8 CPU profile spent its time: self time per function and per package or file,
// so that a benchmark gap can be traced to a layer before anything is optimised.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const [file, rowsArg] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write('usage: npx tsx bench/profile-top.ts <file.cpuprofile> [rows]\n')
  process.exit(2)
}
const rows = Number(rowsArg ?? 30)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))

const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

/** node_modules/<package> (scoped too), a project file, or what V8 calls it. */
function owner (url: string): string {
  if (url === '') return '(native)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm !== null) return nm[1]
  if (url.startsWith('node:')) return url
  return url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')
}

const functions = new Map<string, number>()
const owners = new Map<string, number>()
for (const [id, us] of selfUs) {
  const { callFrame } = byId.get(id) as ProfileNode
  const where = owner(callFrame.url)
  const fn = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`
  functions.set(fn, (functions.get(fn) ?? 0) + us)
  owners.set(where, (owners.get(where) ?? 0) + us)
}

process.stdout.on('error', () => {}) // a closed pipe (| head) is not an error here

const table = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`)
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    process.stdout.write(`${(100 * us / total).toFixed(1).padStart(6)}% ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}\n`)
  }
}
const idle = functions.get('(idle) (native):0') ?? 0
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((total - idle) / 1e6).toFixed(1)} s busy\n`)
table('self time by package or file', owners)
table('self time by function', functions)
