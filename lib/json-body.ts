import { memberJsonText, minifyJson, VALUE_TEXT } from './json-text.js'

// Request bodies to values. Failures are JsonBodyErrors: the body parsers turn them into the
// API's errors, and their messages never echo the body back.

/**
 * Why a body could not be read: `malformed` (not UTF-8, not JSON, too deep) or `invalid`
 * (well-formed, but a number out of range or a form field given twice).
 */
export class JsonBodyError extends Error {
  constructor (message: string, readonly reason: 'malformed' | 'invalid') {
    super(message)
    this.name = 'JsonBodyError'
  }
}

// JSON numbers beyond a double's range parse to ±Infinity, which JSON.stringify would then
// store as null: such a value could not come back as it was sent. Only text with a long
// exponent or a very long run of digits can hold one, so only that text pays for the check.
const MAYBE_HUGE_NUMBER = /[0-9][eE]\+?[0-9]{3}|[0-9]{309}/

function rejectInfinity (_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new JsonBodyError('A number in the body is outside the range of a double (about ±1.8e308)', 'invalid')
  }
  return value
}

/**
 * Deepest nesting of arrays and objects a body may have. JSON.parse copes with any depth,
 * but JSON.stringify (storing, answering) recurses: near the stack's limit a value could
 * be stored and then fail to serialise (a 500). Far below that limit, and the same on
 * every host.
 */
export const MAX_JSON_DEPTH = 1000

/** How deeply the JSON text nests arrays and objects (brackets inside strings ignored). */
export function nestingDepth (text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return max
}

// fatal: bytes that are not UTF-8 are an error, never U+FFFD (two different byte strings
// would become one key). ignoreBOM keeps a BOM in the text, where JSON.parse refuses it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** A body's bytes as text; a JsonBodyError when they are not valid UTF-8. */
export function decodeUtf8 (bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new JsonBodyError('The body is not valid UTF-8', 'malformed')
  }
}

/** JSON text to a value; `what` names it in messages. */
function parseJsonText (text: string, what = 'The body'): unknown {
  // Shorter text cannot nest deeper than its length.
  if (text.length > MAX_JSON_DEPTH && nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new JsonBodyError(`${what} is nested more than ${MAX_JSON_DEPTH} levels deep`, 'malformed')
  }
  try {
    return MAYBE_HUGE_NUMBER.test(text) ? JSON.parse(text, rejectInfinity) : JSON.parse(text)
  } catch (error) {
    if (error instanceof JsonBodyError) throw error
    throw new JsonBodyError(error instanceof RangeError ? `${what} is nested too deeply` : `${what} is not valid JSON`, 'malformed')
  }
}

/** Keeps the JSON text of a body object's `value` member beside the parsed body. */
function keepValueText (body: unknown, valueText: () => string | undefined): unknown {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, 'value')) {
    const text = valueText()
    if (text !== undefined) Object.defineProperty(body, VALUE_TEXT, { value: text })
  }
  return body
}

/** A JSON body, with the text of its `value` member kept. */
export function parseJsonBody (text: string): unknown {
  return keepValueText(parseJsonText(text), () => memberJsonText(text, 'value'))
}

/**
 * A form field's name or value: '+' is a space and %XX a byte, as URLSearchParams reads them,
 * except that bytes that are not UTF-8 are an error instead of U+FFFD.
 */
function decodeFormComponent (text: string): string {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text
  if (!spaced.includes('%')) return spaced
  try {
    // A '%' without two hex digits after it stays a '%', as in URLSearchParams.
    return decodeURIComponent(spaced.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'))
  } catch {
    throw new JsonBodyError('The form body is not valid UTF-8 once percent-decoded', 'malformed')
  }
}

/** The fields of a form body, each name with its values in order. */
function formFields (text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>()
  for (const pair of text.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decodeFormComponent(eq === -1 ? pair : pair.slice(0, eq))
    const value = eq === -1 ? '' : decodeFormComponent(pair.slice(eq + 1))
    const values = fields.get(name)
    if (values === undefined) fields.set(name, [value])
    else values.push(value)
  }
  return fields
}

/**
 * A form body is either fields (`key=...&value=<JSON text>`) or, as the original API's
 * examples send it, a whole JSON document under the form content type.
 */
export function parseFormBody (text: string): unknown {
  const trimmed = text.trimStart()
  if (trimmed.startsWith('{')) return parseJsonBody(trimmed)
  const body: Record<string, unknown> = Object.create(null)
  for (const [name, values] of formFields(text)) {
    if (name === 'value') {
      // Which of two values is meant cannot be guessed, and any JSON list would pass validation.
      if (values.length > 1) throw new JsonBodyError('The form field "value" is given more than once', 'invalid')
      body.value = parseJsonText(values[0], 'The form field "value"')
      keepValueText(body, () => minifyJson(values[0].trim()))
    } else {
      // A repeated field is kept as a list so that validation rejects it instead of guessing.
      body[name] = values.length === 1 ? values[0] : values
    }
  }
  return body
}

/** The JSON text of the body's `value` as the client wrote it (minified), when the parser kept it. */
export const bodyValueText = (body: object): string | undefined =>
  (body as Record<symbol, string | undefined>)[VALUE_TEXT]
