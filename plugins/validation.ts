import { Ajv } from 'ajv'
import type { FastifySchema, FastifySchemaCompiler } from 'fastify'

// Bodies are never coerced, whatever the host's Ajv settings: a `key` of 5 is a 400, not "5".
const bodyAjv = new Ajv({
  coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false, strict: false
})
// Path and query values are strings on the wire: these are converted (limit=20 is 20).
const urlAjv = new Ajv({
  coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: false, strict: false
})

export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : urlAjv).compile(schema as object)
