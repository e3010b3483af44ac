import { jsonTextOf } from '../lib/json-text.js'
import type { EffectiveView } from './effective-view.js'
import type { ExportDocument } from './portability.js'
import { type Preference, type PreferenceList, SERIALIZE, type SerializeAs } from './preference.js'
import type { ChangesPage, RevisionRow } from './revision.js'
import type { ScopeDefault, ScopeDefaultList } from './scope-default.js'

// Responses that carry stored values are written by hand, field for field as their TypeBox
// schemas (marked with SERIALIZE) declare them, so that each value goes out as the JSON text
// it was stored as.

const quote = JSON.stringify

function preferenceJson (p: Preference): string {
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

function scopeDefaultJson (d: ScopeDefault): string {
  return `{"scope":${quote(d.scope)},"key":${quote(d.key)},"value":${jsonTextOf(d.value)},"locked":${d.locked},` +
    `"last_updated_at":${quote(d.last_updated_at)}}`
}

function scopeDefaultListJson (list: ScopeDefaultList): string {
  return `{"scope":${quote(list.scope)},"results":[${list.results.map(scopeDefaultJson).join(',')}]}`
}

// An effective view's JSON is built once: first for its ETag, then taken from here for the body.
const viewJson = new WeakMap<EffectiveView, string>()

export function effectiveViewJson (view: EffectiveView): string {
  let json = viewJson.get(view)
  if (json === undefined) {
    // Plain concatenation, one entry at a time: the hottest body the plugin writes by hand.
    json = `{"rev":${view.rev},"preferences":{`
    let first = true
    const preferences = view.preferences
    for (const key in preferences) {
      const e = preferences[key]
      json += (first ? '' : ',') + quote(key) + ':{"value":' + jsonTextOf(e.value) + ',"source":' + quote(e.source) +
        ',"locked":' + String(e.locked) + (e.user_value_invalid === true ? ',"user_value_invalid":true}' : '}')
      first = false
    }
    json += '}}'
    viewJson.set(view, json)
  }
  return json
}

/** One revision of the change log, its changes as stored. */
export function revisionJson (r: RevisionRow): string {
  const actor = r.actorId === null ? 'null' : `{"id":${r.actorId},"admin":${r.actorAdmin === true}}`
  return `{"rev":${r.rev},"at":${quote(r.at)},"actor":${actor},"changes":${r.changes}${r.erased ? ',"erased":true' : ''}}`
}

function changesPageJson (page: ChangesPage): string {
  return `{"rev":${page.rev},"results":[${page.results.map(revisionJson).join(',')}],"next":${quote(page.next)}}`
}

/** An export, each value as its stored JSON text, keys in the order given. */
export function exportJson (doc: ExportDocument): string {
  let entries = ''
  for (const [key, value] of Object.entries(doc.preferences)) entries += `${entries === '' ? '' : ','}${quote(key)}:${jsonTextOf(value)}`
  return `{"format":${quote(doc.format)},"user_id":${doc.user_id},"exported_at":${quote(doc.exported_at)},"rev":${doc.rev},` +
    `"preferences":{${entries}}}`
}

const BY_HAND: Record<SerializeAs, (data: never) => string> = {
  preference: preferenceJson,
  'preference-list': preferenceListJson,
  'scope-default': scopeDefaultJson,
  'scope-default-list': scopeDefaultListJson,
  'effective-view': effectiveViewJson,
  'changes-page': changesPageJson,
  export: exportJson
}

/** The hand-written serializer of a response schema marked with SERIALIZE, else undefined. */
export function handWrittenSerializer (schema: unknown): ((data: unknown) => string) | undefined {
  const as = (schema as { [SERIALIZE]?: SerializeAs } | null)?.[SERIALIZE]
  return as === undefined ? undefined : BY_HAND[as] as (data: unknown) => string
}
