import { Type, type Static } from '@sinclair/typebox'

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer({ description: 'The HTTP status code, repeated' }),
  code: Type.String({ description: 'A stable, documented error code, e.g. PREFERENCE_NOT_FOUND' }),
  error: Type.String({ description: 'The HTTP reason phrase' }),
  message: Type.String({ description: 'What went wrong, for people' })
}, { title: 'Error' })

export type ErrorBody = Static<typeof ErrorSchema>
