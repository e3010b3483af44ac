/** A request URL as it may be logged: an `access_token` in the query replaced. */
export const redactedUrl = (url: string): string => url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]')
