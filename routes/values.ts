import { MalformedBodyError, ValueTooLargeError } from '../errors.js'
import { VALUE_TEXT } from '../schemas/json-text.js'

/** The JSON text of the body's `value` as the client wrote it (minified), when the parser kept it. */
export const bodyValueText = (body: object): string | undefined =>
  (body as Record<symbol, string | undefined>)[VALUE_TEXT]

/**
 * The JSON text to store for a value: the client's own text when given (numbers keep their
 * digits), else JSON.stringify. A 413 when the compact JSON.stringify encoding is over
 * `maxValueBytes` bytes of UTF-8. `what` names the value in error messages.
 */
export function encodeValue (value: unknown, maxValueBytes: number, what = 'The value', text?: string): string {
  let json: string
  try {
    json = JSON.stringify(value)
  } catch {
    throw new MalformedBodyError(`${what} is nested too deeply`)
  }
  const bytes = Buffer.byteLength(json)
  if (bytes > maxValueBytes) throw new ValueTooLargeError(what, bytes, maxValueBytes)
  return text ?? json
}
