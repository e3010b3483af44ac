// Compile-time assertions for the type fixtures (test/typed-client.test.ts compiles them).

/** True when A and B are the same type (not merely assignable to each other). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

/**
 * Compiles only when its type argument is `true`: `expectType<Equal<typeof x, string>>(x)`.
 * The values it is given are the ones the assertion is about (so that they count as used).
 */
export function expectType<T extends true> (...values: unknown[]): T | undefined {
  return undefined
}

/** Uses values that a fixture only needs to compile. */
export function use (...values: unknown[]): number {
  return values.length
}
