// Form controls generated from a key's JSON Schema: enum -> select, boolean -> checkbox,
// number/integer -> number input, string -> text input, anything else -> a JSON textarea.

export interface KeyInfo {
  schema: Record<string, unknown>
  default?: unknown
  description?: string
  writable: 'user' | 'admin'
}

/** What /settings/keys.json answers: the server's key registry. */
export interface RegistryInfo {
  unknownKeys: 'allow' | 'reject'
  keys: Record<string, KeyInfo>
}

/** The definition that applies to `key`: the exact one, else the longest matching pattern. */
export function definitionOf (registry: RegistryInfo, key: string): KeyInfo | undefined {
  if (Object.hasOwn(registry.keys, key)) return registry.keys[key]
  let best: string | undefined
  for (const name of Object.keys(registry.keys)) {
    if (!name.endsWith('*')) continue
    const prefix = name.slice(0, -1)
    if (key.length > prefix.length && key.startsWith(prefix) && (best === undefined || name.length > best.length)) best = name
  }
  return best === undefined ? undefined : registry.keys[best]
}

export interface Control {
  element: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement
  /** Shows `value` (undefined: not set). */
  show: (value: unknown) => void
  /** The value the control holds; throws a message for text that is not a value. */
  read: () => unknown
}

const isPrimitive = (v: unknown): boolean => v === null || ['string', 'number', 'boolean'].includes(typeof v)
const label = (v: unknown): string => typeof v === 'string' ? v : JSON.stringify(v)

/** The fixed choices a schema allows (`enum`, `const`, or a union of `const`s), if that is all it allows. */
function choicesOf (schema: Record<string, unknown>): unknown[] | undefined {
  if (Array.isArray(schema.enum) && schema.enum.every(isPrimitive)) return schema.enum
  if ('const' in schema && isPrimitive(schema.const)) return [schema.const]
  const members = schema.anyOf ?? schema.oneOf
  if (Array.isArray(members) && members.length > 0) {
    const all = members.map((m) => choicesOf(m as Record<string, unknown>))
    if (all.every((c) => c !== undefined)) return all.flat()
  }
  return undefined
}

function selectControl (choices: unknown[]): Control {
  const select = document.createElement('select')
  const none = new Option('(not set)', '')
  none.disabled = true
  select.append(none, ...choices.map((choice, i) => new Option(label(choice), String(i))))
  return {
    element: select,
    show: (value) => {
      const at = choices.findIndex((choice) => choice === value)
      // A stored value outside the choices (the schema changed) is shown as it is.
      if (at === -1 && value !== undefined) {
        select.append(new Option(label(value), 'other'))
        select.value = 'other'
      } else {
        select.value = at === -1 ? '' : String(at)
      }
    },
    read: () => {
      if (select.value === '') throw new Error('Choose a value first')
      return choices[Number(select.value)]
    }
  }
}

function inputControl (type: 'checkbox' | 'number' | 'text', integer = false): Control {
  const input = document.createElement('input')
  input.type = type
  if (integer) input.step = '1'
  return {
    element: input,
    show: (value) => {
      if (type === 'checkbox') input.checked = value === true
      else input.value = value === undefined || value === null ? '' : String(value)
    },
    read: () => {
      if (type === 'checkbox') return input.checked
      if (type === 'text') return input.value
      // Empty or not a number: sent as null, for the server to say what it expects.
      return input.value === '' ? null : Number(input.value)
    }
  }
}

function jsonControl (): Control {
  const area = document.createElement('textarea')
  area.rows = 3
  area.spellcheck = false
  return {
    element: area,
    show: (value) => { area.value = value === undefined ? '' : JSON.stringify(value, null, 2) },
    read: () => {
      try {
        return JSON.parse(area.value) as unknown
      } catch (error) {
        throw new Error(`Not JSON: ${(error as Error).message}`)
      }
    }
  }
}

/** The control for a key with this definition (none: a free-form key, edited as JSON). */
export function controlFor (definition: KeyInfo | undefined): Control {
  const schema = definition?.schema ?? {}
  const choices = choicesOf(schema)
  if (choices !== undefined) return selectControl(choices)
  if (schema.type === 'boolean') return inputControl('checkbox')
  if (schema.type === 'number' || schema.type === 'integer') return inputControl('number', schema.type === 'integer')
  if (schema.type === 'string') return inputControl('text')
  return jsonControl()
}
