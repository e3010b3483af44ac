import { MalformedBodyError, ValueTooLargeError } from '../schemas/errors.js'

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

/** A key for a message, shortened and quoted. */
export const quotedKey = (key: string): string => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key)
