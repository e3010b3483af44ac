import { MalformedBodyError, ValueTooLargeError } from '../errors.js'

/**
 * A value's compact JSON text, as stored; a 413 when it is over `maxValueBytes` bytes of
 * UTF-8. `what` names the value in error messages ("The value", "The value of \"theme\"").
 */
export function encodeValue (value: unknown, maxValueBytes: number, what = 'The value'): string {
  let json: string
  try {
    json = JSON.stringify(value)
  } catch {
    throw new MalformedBodyError(`${what} is nested too deeply`)
  }
  const bytes = Buffer.byteLength(json)
  if (bytes > maxValueBytes) throw new ValueTooLargeError(what, bytes, maxValueBytes)
  return json
}
