const DIGITS = /^[1-9][0-9]*$/

/** A positive safe integer from a number or a decimal string (no sign, no leading zeros), else null. */
export function parsePositiveId (value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : null
  if (typeof value !== 'string' || !DIGITS.test(value)) return null
  const id = Number(value)
  return Number.isSafeInteger(id) ? id : null
}
