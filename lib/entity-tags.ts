import { hash } from 'node:crypto'

// Entity tags and the comparisons of RFC 9110 section 13.

/** A strong entity tag for `text` (a hash, quoted). crypto.hash: one call, no stream object. */
export const entityTagOf = (text: string): string => `"${hash('sha1', text, 'base64url')}"`

interface EntityTag {
  weak: boolean
  /** With its quotes, e.g. "abc". */
  opaque: string
}

/** `*` or a list of entity tags; null when the header is not of that form. */
export function parseEntityTags (header: string): '*' | EntityTag[] | null {
  if (header.trim() === '*') return '*'
  const tags: EntityTag[] = []
  const element = /\s*(W\/)?("[\x21\x23-\x7E\x80-\xFF]*")\s*(,|$)/y
  let match: RegExpExecArray | null
  while (element.lastIndex < header.length && (match = element.exec(header)) !== null) {
    tags.push({ weak: match[1] !== undefined, opaque: match[2] })
    if (match[3] === '') break
  }
  return element.lastIndex === header.length || header.trim() === '' ? tags : null
}

/** If-Match (strong comparison): `*` or one listed strong tag equal to `current`. */
export function ifMatchMatches (header: string, current: string): boolean {
  const tags = parseEntityTags(header)
  if (tags === '*') return true
  return tags !== null && tags.some((tag) => !tag.weak && tag.opaque === current)
}

/** If-None-Match (weak comparison): `*`, or one listed tag with the same opaque part as `current`. */
export function ifNoneMatchMatches (header: string, current: string): boolean {
  const tags = parseEntityTags(header)
  if (tags === '*') return true
  return tags !== null && tags.some((tag) => tag.opaque === current)
}
