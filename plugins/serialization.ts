import type { FastifySchema, FastifySerializerCompiler } from 'fastify'
import fastJson from 'fast-json-stringify'
import { jsonTextOf, SERIALIZE, type SerializeAs } from '../schemas/json-text.js'
import type { Preference, PreferenceList } from '../schemas/preference.js'

// Responses that carry preferences are written by hand, field for field as their TypeBox
// schemas (PreferenceSchema, PreferenceListSchema) declare them, so that each value goes out
// as the JSON text it was stored as. Every other response schema goes to fast-json-stringify,
// as Fastify would do.

const quote = JSON.stringify

export function preferenceJson (p: Preference): string {
  return `{"id":${p.id},"user_id":${p.user_id},"key":${quote(p.key)},"value":${jsonTextOf(p.value)},` +
    `"created_at":${quote(p.created_at)},"last_updated_at":${quote(p.last_updated_at)}}`
}

// A list page's JSON is built once: first for its ETag, then taken from here for the body.
const listJson = new WeakMap<PreferenceList, string>()

export function preferenceListJson (list: PreferenceList): string {
  let json = listJson.get(list)
  if (json === undefined) {
    let results = ''
    for (const p of list.results) results += (results === '' ? '' : ',') + preferenceJson(p)
    json = `{"count":${list.count},"next":${quote(list.next)},"previous":${quote(list.previous)},"results":[${results}]}`
    listJson.set(list, json)
  }
  return json
}

const byHand: Record<SerializeAs, (data: never) => string> = {
  preference: preferenceJson,
  'preference-list': preferenceListJson
}

export const serializerCompiler: FastifySerializerCompiler<FastifySchema> = ({ schema }) => {
  const as = (schema as { [SERIALIZE]?: SerializeAs })[SERIALIZE]
  return as !== undefined ? byHand[as] as (data: unknown) => string : fastJson(schema as object)
}
