// Preloaded into a server that bench/live.ts measures (node --expose-gc --import this file):
// asked 'memory' over the IPC channel, it answers with the process's memory after a full
// garbage collection, so that what is counted is what stays alive.
process.on('message', (message) => {
  if (message !== 'memory') return
  globalThis.gc?.()
  process.send?.(process.memoryUsage())
})
