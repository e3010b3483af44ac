// The data of the effective-view scenario, the same for both servers: user 3 with 50 stored
// keys, 20 registered keys with defaults (10 of them also stored), a site scope and two groups.
export const EFFECTIVE_USER = 3
export const EFFECTIVE_GROUPS = ['g1', 'g2']

/** The registry, as KEYS_FILE holds it. */
export const EFFECTIVE_KEYS: Record<string, { schema: object, default: unknown }> = Object.fromEntries(
  Array.from({ length: 20 }, (_, i) => [`r${i}`, { schema: { type: 'integer', minimum: 0 }, default: i }]))

/** [key, value JSON] of the user's 50 stored preferences. */
export const EFFECTIVE_USER_ROWS: Array<[string, string]> = [
  ...Array.from({ length: 40 }, (_, i): [string, string] => [`e${i}`, JSON.stringify({ mode: 'dark', i })]),
  ...Array.from({ length: 10 }, (_, i): [string, string] => [`r${i}`, String(100 + i)])
]

/** [scope, key, value JSON, locked] of the scope defaults. */
export const EFFECTIVE_DEFAULTS: Array<[string, string, string, number]> = [
  ...Array.from({ length: 5 }, (_, i): [string, string, string, number] => ['site', `s${i}`, JSON.stringify(`site ${i}`), 0]),
  ...Array.from({ length: 5 }, (_, i): [string, string, string, number] => ['site', `r${10 + i}`, String(200 + i), i === 0 ? 1 : 0]),
  ...Array.from({ length: 5 }, (_, i): [string, string, string, number] => ['g1', `s${i}`, JSON.stringify(`g1 ${i}`), 0]),
  ...Array.from({ length: 5 }, (_, i): [string, string, string, number] => ['g2', `e${i}`, JSON.stringify({ mode: 'light' }), 0]),
  ['other-group', 'e0', '0', 1]
]
