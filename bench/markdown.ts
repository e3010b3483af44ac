// npx tsx bench/markdown.ts [bench/results.json]
// The table of a benchmark run (bench/results.json or results-pg.json) in Markdown, as the
// README shows it, so that the README's numbers are copied from a run and not retyped.
import { readFileSync } from 'node:fs'

interface Row {
  scenario: string
  /** Absent in files written before these columns. */
  connections?: number
  plugin_rps: number
  baseline_rps: number
  ratio: number
  baseline_off_rps?: number | null
  ratio_off?: number | null
  ceiling_rps?: number | null
  ratio_ceiling?: number | null
  plugin_p50_ms: number
  plugin_p99_ms: number
  plugin_cpu_us_per_req: number
  baseline_cpu_us_per_req: number
  plugin_non2xx: number
  baseline_non2xx: number
}
interface Results { date: string, node: string, backend: string, connections: number, durationSeconds: number, scenarios: Row[], peakRssMb: { plugin: number, baseline: number } }

/** A number, or a dash where the run had no such server for the scenario. */
const cell = (value: number | null | undefined, digits?: number): string =>
  value === null || value === undefined ? '–' : digits === undefined ? String(value) : value.toFixed(digits)

const results = JSON.parse(readFileSync(process.argv[2] ?? 'bench/results.json', 'utf8')) as Results
const lines = [
  `${results.backend}, Node ${results.node}, ${results.durationSeconds} s per server and scenario, ${results.date.slice(0, 10)}. ` +
  'baseline: the hand-written server (synchronous=FULL on SQLite); baseline OFF: the same with synchronous=OFF (no durability; ' +
  'write scenarios only); framework: bare Fastify answering a fixed body:',
  '',
  '| scenario | connections | plugin req/s | baseline req/s | plugin / baseline | baseline OFF req/s | plugin / OFF | framework req/s | plugin / framework | plugin p50 / p99 ms | CPU µs per request, plugin / baseline |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...results.scenarios.map((r) =>
    `| ${r.scenario} | ${r.connections ?? results.connections} | ${r.plugin_rps} | ${r.baseline_rps} | ${r.ratio.toFixed(2)} | ` +
    `${cell(r.baseline_off_rps)} | ${cell(r.ratio_off, 2)} | ${cell(r.ceiling_rps)} | ${cell(r.ratio_ceiling, 2)} | ` +
    `${r.plugin_p50_ms} / ${r.plugin_p99_ms} | ${r.plugin_cpu_us_per_req} / ${r.baseline_cpu_us_per_req} |`),
  '',
  `Peak RSS: plugin ${results.peakRssMb.plugin} MB, baseline ${results.peakRssMb.baseline} MB. ` +
  `Answers other than 2xx: plugin ${results.scenarios.reduce((n, r) => n + r.plugin_non2xx, 0)}, ` +
  `baseline ${results.scenarios.reduce((n, r) => n + r.baseline_non2xx, 0)}.`
]
process.stdout.write(lines.join('\n') + '\n')
