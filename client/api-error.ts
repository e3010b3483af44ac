import type { PreferencesErrorCode } from '../schemas/error-catalogue.js'

/** A code the API sends, or the client's own for an answer that is not the API's (a proxy's, say). */
export type PreferencesClientErrorCode = PreferencesErrorCode | 'PREFERENCE_UNEXPECTED_RESPONSE'

/**
 * What the client throws for an error answer: the HTTP `status`, the API's `code`
 * (`PREFERENCE_UNEXPECTED_RESPONSE` when the answer is not one of the API's) and its `message`.
 * Its own class: nothing of the server (or of Node) comes with it into a browser bundle.
 */
export class PreferencesApiError extends Error {
  override readonly name = 'PreferencesApiError'
  /** The HTTP status of the answer. */
  readonly status: number
  /** The same as `status`, as in the API's error body. */
  readonly statusCode: number
  readonly code: PreferencesClientErrorCode
  /** The answer's body: the API's error object, or the text of an unexpected answer. */
  readonly body: unknown

  constructor (status: number, code: PreferencesClientErrorCode, message: string, body?: unknown) {
    super(message)
    this.status = status
    this.statusCode = status
    this.code = code
    this.body = body
  }
}
