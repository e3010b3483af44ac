import { Type } from '@sinclair/typebox'

// The conditional request headers (RFC 9110 section 13), declared for the OpenAPI document.

const ifNoneMatch = (description: string) => Type.Optional(Type.String({ description, examples: ['"3q2-7wEjxT4bEaOqPUR8RyRzSrM"'] }))

/** GET of one preference or of the list. */
export const ReadConditionHeadersSchema = Type.Object({
  'if-none-match': ifNoneMatch('ETags from earlier responses (or `*`): 304 with no body when one matches the current ETag (weak comparison)')
})

/** PATCH, PUT and DELETE of one preference. */
export const WriteConditionHeadersSchema = Type.Object({
  'if-match': Type.Optional(Type.String({
    description: 'ETags (or `*`): the write happens only if one equals the preference\'s current ETag (strong comparison), else 412',
    examples: ['"3q2-7wEjxT4bEaOqPUR8RyRzSrM"']
  })),
  'if-none-match': ifNoneMatch('`*`: the write happens only if the preference does not exist (create only), else 412')
})
