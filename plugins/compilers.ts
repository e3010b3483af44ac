import { Ajv } from 'ajv'
import fastJson from 'fast-json-stringify'
import type { FastifySchema, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify'
import { handWrittenSerializer } from '../schemas/preference-json.js'

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

/** Preferences go out as their stored JSON text (schemas/preference-json.ts); the rest as Fastify would. */
export const serializerCompiler: FastifySerializerCompiler<FastifySchema> = ({ schema }) =>
  handWrittenSerializer(schema) ?? fastJson(schema as object)
