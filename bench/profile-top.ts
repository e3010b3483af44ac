// npx tsx bench/profile-top.ts <file.cpuprofile | file.heapprofile> [rows]
// Where a V8 CPU profile spent its time (or a sampled heap profile allocated its bytes): self
// time (bytes) per function and per package or file, so that a benchmark gap can be traced to a
// layer before anything is optimised.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }
interface HeapNode { callFrame: ProfileNode['callFrame'], selfSize: number, children: HeapNode[] }

const [file, rowsArg] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write('usage: npx tsx bench/profile-top.ts <file.cpuprofile | file.heapprofile> [rows]\n')
  process.exit(2)
}
const rows = Number(rowsArg ?? 30)
const parsed = JSON.parse(readFileSync(file, 'utf8')) as Profile | { head: HeapNode }
const heap = 'head' in parsed

// Self cost per call frame: microseconds sampled (CPU) or bytes allocated and sampled (heap).
const selfCost: Array<[ProfileNode['callFrame'], number]> = []
if ('head' in parsed) {
  const walk = (node: HeapNode) => {
    if (node.selfSize > 0) selfCost.push([node.callFrame, node.selfSize])
    node.children.forEach(walk)
  }
  walk(parsed.head)
} else {
  const byId = new Map(parsed.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  parsed.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (parsed.timeDeltas[i] ?? 0)))
  for (const [id, us] of selfUs) selfCost.push([(byId.get(id) as ProfileNode).callFrame, us])
}
const total = selfCost.reduce((sum, [, cost]) => sum + cost, 0)

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
for (const [callFrame, us] of selfCost) {
  const where = owner(callFrame.url)
  const fn = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`
  functions.set(fn, (functions.get(fn) ?? 0) + us)
  owners.set(where, (owners.get(where) ?? 0) + us)
}

process.stdout.on('error', () => {}) // a closed pipe (| head) is not an error here

const table = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`)
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    const amount = heap ? `${(us / 1e6).toFixed(1).padStart(7)} MB` : `${(us / 1000).toFixed(0).padStart(7)} ms`
    process.stdout.write(`${(100 * us / total).toFixed(1).padStart(6)}% ${amount}  ${name}\n`)
  }
}
if (heap) {
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} MB allocated (sampled)\n`)
  table('bytes allocated by package or file', owners)
  table('bytes allocated by function', functions)
} else {
  const idle = functions.get('(idle) (native):0') ?? 0
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((total - idle) / 1e6).toFixed(1)} s busy\n`)
  table('self time by package or file', owners)
  table('self time by function', functions)
}
