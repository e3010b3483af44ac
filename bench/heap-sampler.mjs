// Preloaded into a server by `npm run bench -- --heap-prof`: samples every allocation, kept or
// collected (node --heap-prof keeps only what is still alive when the process exits, which
// says nothing about the garbage a request makes), and writes a .heapprofile on exit.
import { Session } from 'node:inspector'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.HEAP_PROFILE_DIR
const session = new Session()
session.connect()
session.post('HeapProfiler.startSampling', {
  samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true
})
process.on('exit', () => {
  // A session on the main thread answers synchronously, so this runs to the end before exit.
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error !== null || dir === undefined) return
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `Heap.${Date.now()}.${process.pid}.heapprofile`), JSON.stringify(result.profile))
  })
})
