// A preference value travels as the JSON text it was stored as: numbers keep their exact
// digits (1.0, 1e400, 2^64), object keys keep their order (integer-like keys included), and
// reads neither parse nor re-stringify it.

/** Stored JSON text standing in for a value. JSON.stringify still sees the value itself. */
export class JsonText {
  constructor (readonly text: string) {}

  toJSON (): unknown {
    return JSON.parse(this.text)
  }
}

/** The value as plain data (JsonText parsed). */
export const plainValue = (value: unknown): unknown => value instanceof JsonText ? value.toJSON() : value

/** The value's JSON text: as stored for a JsonText, else JSON.stringify. */
export const jsonTextOf = (value: unknown): string =>
  value instanceof JsonText ? value.text : (JSON.stringify(value) ?? 'null')

/** Where a request body keeps the JSON text of its top-level `value` member. */
export const VALUE_TEXT = Symbol.for('fastify-user-preferences.value-text')

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

function skipSpace (text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++
  return i
}

/** Index just past the string that starts at `i` (a '"'). */
function skipString (text: string, i: number): number {
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x5c) i++ // backslash: skip the escaped character
    else if (c === 0x22) return i + 1
  }
  return i
}

/** Index just past the value that starts at `i`. */
function skipValue (text: string, i: number): number {
  const c = text.charCodeAt(i)
  if (c === 0x22) return skipString(text, i)
  if (c === 0x7b || c === 0x5b) {
    let depth = 0
    for (; i < text.length; i++) {
      const d = text.charCodeAt(i)
      if (d === 0x22) i = skipString(text, i) - 1
      else if (d === 0x7b || d === 0x5b) depth++
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return i + 1
      }
    }
    return i
  }
  while (i < text.length) {
    const d = text.charCodeAt(i)
    if (d === 0x2c || d === 0x7d || d === 0x5d || isSpace(d)) break
    i++
  }
  return i
}

/** Valid JSON text without the whitespace between tokens. */
export function minifyJson (text: string): string {
  let out = ''
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      i = skipString(text, i) - 1
    } else if (isSpace(c)) {
      out += text.slice(start, i)
      start = i + 1
    }
  }
  return start === 0 ? text : out + text.slice(start)
}

/**
 * The minified JSON text of member `name` of the object that `text` (valid JSON, already
 * parsed) encodes; the last one when repeated, as JSON.parse takes it; undefined if absent.
 */
export function memberJsonText (text: string, name: string): string | undefined {
  let i = skipSpace(text, 0)
  if (text.charCodeAt(i) !== 0x7b) return undefined
  let found: string | undefined
  i = skipSpace(text, i + 1)
  while (i < text.length && text.charCodeAt(i) === 0x22) {
    const keyEnd = skipString(text, i)
    const key = text.slice(i, keyEnd)
    i = skipSpace(text, skipSpace(text, keyEnd) + 1) // past ':'
    const valueEnd = skipValue(text, i)
    if (key === `"${name}"` || JSON.parse(key) === name) found = text.slice(i, valueEnd)
    i = skipSpace(text, valueEnd)
    if (text.charCodeAt(i) !== 0x2c) break
    i = skipSpace(text, i + 1)
  }
  return found === undefined ? undefined : minifyJson(found)
}
