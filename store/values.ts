import { MalformedBodyError, ValueTooLargeError } from '../schemas/errors.js'

/**
 * The JSON text to store for a value: the client's own text when given (numbers keep their
 * digits), else JSON.stringify. A 413 when the text stored, or the JSON.stringify encoding if
 * that is longer, is over `maxValueBytes` bytes of UTF-8: the limit bounds what the database
 * keeps (1.000...0 or \u0061 escapes are kept as sent) and what a re-encoding could grow to
 * (1e300 becomes 1e+300). `what` names the value in error messages.
 */
export function encodeValue (value: unknown, maxValueBytes: number, what = 'The value', text?: string): string {
  let json: string
  try {
    json = JSON.stringify(value)
  } catch {
    throw new MalformedBodyError(`${what} is nested too deeply`)
  }
  const stored = text ?? json
  const bytes = stored === json ? Buffer.byteLength(json) : Math.max(Buffer.byteLength(stored), Buffer.byteLength(json))
  if (bytes > maxValueBytes) throw new ValueTooLargeError(what, bytes, maxValueBytes)
  return stored
}

/** A key for a message, shortened and quoted. */
export const quotedKey = (key: string): string => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key)
