// The environment for a process a test starts (the server, a script, an example, npm).
//
// Coverage is recorded by the test processes only. A child run through tsx transpiles the
// same .ts files differently from the test runner's ts-node; tap merges V8 coverage by file
// path, so one child's ranges were laid over another transpilation's source map and the
// counted statements changed from run to run (the coverage gate flaked).
// `_TAPJS_PROCESSINFO_COVERAGE_=0` is @tapjs/processinfo's own switch for that.

/** Server settings a developer may have exported; a test sets the ones it means. */
const SERVER_VARIABLES = ['DATABASE_URL', 'JWT_SECRET', 'PORT', 'HOST', 'LOG_LEVEL', 'RATE_LIMIT_PER_MINUTE', 'MAX_PREFERENCES_PER_USER', 'REDIS_URL', 'REDIS_PREFIX', 'KEYS_FILE', 'UNKNOWN_KEYS']

export function childEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  for (const name of SERVER_VARIABLES) delete env[name]
  return { ...env, ...extra }
}
