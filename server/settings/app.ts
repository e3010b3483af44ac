import {
  createPreferencesClient, type EffectiveEntry, live, PRECONDITION_FAILED, PreferencesApiError
} from '../../client/index.js'
import { type Control, controlFor, definitionOf, type KeyInfo, type RegistryInfo } from './controls.js'

// The settings page: the signed-in user's effective preferences as a form made from the key
// registry's schemas, saved with If-Match, kept current by the event stream.

const TOKEN_ITEM = 'preferences-settings-token'

interface Row {
  key: string
  definition: KeyInfo | undefined
  element: HTMLElement
  control: Control
  source: HTMLElement
  lock: HTMLElement
  message: HTMLElement
  save: HTMLButtonElement
  reset: HTMLButtonElement
  entry: EffectiveEntry | undefined
  /** The ETag of the user's stored value, sent as If-Match; undefined: none stored (create-only). */
  etag: string | undefined
  /** Edited here and not saved: changes from elsewhere do not overwrite the edit. */
  dirty: boolean
  /** Counts ETag reads, so that an older one that ends last does not win. */
  reads: number
}

/**
 * The token from the address's fragment (`#token=...`, which browsers never send to the server),
 * kept for this tab so that a reload works, and taken out of the address bar.
 */
function takeToken (): string | null {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token')
  if (fromFragment !== null && fromFragment !== '') {
    sessionStorage.setItem(TOKEN_ITEM, fromFragment)
    history.replaceState(null, '', location.pathname + location.search)
    return fromFragment
  }
  return sessionStorage.getItem(TOKEN_ITEM)
}

/** The token's claims, for display and to know an admin (the server decides either way). */
function claimsOf (token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(atob(part)) as Record<string, unknown>
  } catch {
    return {}
  }
}

const messageOf = (error: unknown): string =>
  error instanceof PreferencesApiError || error instanceof Error ? error.message : String(error)

function element<K extends keyof HTMLElementTagNameMap> (tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  node.className = className
  node.textContent = text
  return node
}

function describeSource (entry: EffectiveEntry | undefined): string {
  if (entry === undefined) return 'not set'
  if (entry.source === 'user') return 'your value'
  if (entry.source === 'registry') return 'default'
  const scope = entry.source.replace(/^scope:/, '')
  return scope === 'site' ? 'site default' : `default of group ${scope}`
}

async function main (): Promise<void> {
  const status = document.getElementById('status') as HTMLElement
  const form = document.getElementById('settings') as HTMLFormElement
  form.addEventListener('submit', (event) => { event.preventDefault() })
  const token = takeToken()
  if (token === null) {
    status.textContent = 'Not signed in: open this page with #token=<your token> at the end of its address (npm start prints such a link).'
    return
  }
  const claims = claimsOf(token)
  const admin = (Array.isArray(claims.roles) && claims.roles.includes('admin')) || claims.role === 'admin'
  const who = `Signed in as user ${String(claims.sub)}${admin ? ' (admin)' : ''}`
  const api = new URL(document.querySelector('meta[name="preferences-api"]')?.getAttribute('content') ?? '/api/v2', location.href).href
  const client = createPreferencesClient({ baseUrl: api, token })

  const answer = await fetch('keys.json')
  const registry = await answer.json() as RegistryInfo
  const rows = new Map<string, Row>()
  let ids = 0

  const note = (row: Row, text: string, kind: 'error' | 'conflict' | 'info' | 'ok' | '' = ''): void => {
    row.message.textContent = text
    row.message.dataset.kind = kind
  }

  /** Source, lock, and what may be done, from the row's entry. */
  const renderMeta = (row: Row): void => {
    const { entry } = row
    row.source.textContent = describeSource(entry) + (entry?.user_value_invalid === true ? ' (your stored value no longer fits)' : '')
    const adminOnly = row.definition?.writable === 'admin' && !admin
    const lockedBy = entry?.locked === true ? entry.source.replace(/^scope:/, '') : undefined
    row.lock.textContent = lockedBy !== undefined
      ? `Locked by ${lockedBy === 'site' ? 'the site' : `group ${lockedBy}`}`
      : adminOnly ? 'Only an admin can change this' : ''
    const readOnly = lockedBy !== undefined || adminOnly
    row.element.dataset.readonly = String(readOnly)
    row.control.element.disabled = readOnly
    row.save.hidden = readOnly
    row.reset.hidden = readOnly || entry?.source !== 'user'
  }

  /** Reads the ETag of the user's stored value (and the value: it may be newer than the event). */
  const readEtag = async (row: Row): Promise<void> => {
    const n = ++row.reads
    if (row.entry?.source !== 'user' && row.entry?.user_value_invalid !== true) {
      row.etag = undefined
      return
    }
    try {
      const stored = await client.get(row.key)
      if (n !== row.reads) return
      row.etag = stored?.etag
      if (stored !== undefined && !row.dirty && row.entry?.source === 'user') row.control.show(stored.value)
    } catch (error) {
      if (n === row.reads) note(row, messageOf(error), 'error')
    }
  }

  /** After a conflict: the stored value and its ETag, the edit dropped. */
  const reload = async (row: Row): Promise<void> => {
    row.dirty = false
    row.element.classList.remove('dirty')
    const n = ++row.reads
    const stored = await client.get(row.key)
    if (n !== row.reads) return
    row.etag = stored?.etag
    if (stored !== undefined && row.entry?.locked !== true) row.entry = { value: stored.value, source: 'user', locked: false }
    renderMeta(row)
    row.control.show(row.entry?.value)
  }

  const save = async (row: Row): Promise<void> => {
    let value: unknown
    try {
      value = row.control.read()
    } catch (error) {
      note(row, messageOf(error), 'error')
      return
    }
    note(row, 'Saving…')
    row.save.disabled = true
    try {
      const result = await client.set(row.key, value, row.etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: row.etag })
      if (result === PRECONDITION_FAILED) {
        await reload(row)
        note(row, 'Not saved: this preference was changed elsewhere since you loaded it. Its current value is shown; make your change again.', 'conflict')
        return
      }
      row.reads++
      row.etag = result.etag
      row.dirty = false
      row.element.classList.remove('dirty')
      row.entry = { value: result.value, source: 'user', locked: false }
      renderMeta(row)
      row.control.show(result.value)
      note(row, 'Saved', 'ok')
    } catch (error) {
      note(row, messageOf(error), 'error')
    } finally {
      row.save.disabled = false
    }
  }

  const useDefault = async (row: Row): Promise<void> => {
    note(row, 'Removing your value…')
    try {
      const result = await client.delete(row.key, row.etag === undefined ? {} : { ifMatch: row.etag })
      if (result === PRECONDITION_FAILED) {
        await reload(row)
        note(row, 'Not reset: this preference was changed elsewhere since you loaded it. Its current value is shown.', 'conflict')
        return
      }
      row.dirty = false
      row.element.classList.remove('dirty')
      // The event stream brings the value that now applies.
      note(row, 'Your value was removed', 'ok')
    } catch (error) {
      note(row, messageOf(error), 'error')
    }
  }

  const makeRow = (key: string): Row => {
    const definition = definitionOf(registry, key)
    const control = controlFor(definition)
    control.element.id = `pref-${++ids}`
    control.element.dataset.role = 'control'
    const row: Row = {
      key,
      definition,
      element: element('div', 'row'),
      control,
      source: element('span', 'source'),
      lock: element('span', 'lock'),
      message: element('p', 'message'),
      save: element('button', 'save', 'Save'),
      reset: element('button', 'reset', 'Remove my value'),
      entry: undefined,
      etag: undefined,
      dirty: false,
      reads: 0
    }
    row.element.dataset.key = key
    const name = element('label', 'key', key)
    name.htmlFor = control.element.id
    row.message.setAttribute('role', 'status')
    for (const button of [row.save, row.reset]) button.type = 'button'
    const head = element('div', 'head')
    head.append(name, row.source, row.lock)
    const edit = element('div', 'edit')
    edit.append(control.element, row.save, row.reset)
    row.element.append(head)
    if (definition?.description !== undefined) row.element.append(element('p', 'description', definition.description))
    row.element.append(edit, row.message)
    const edited = (): void => {
      row.dirty = true
      row.element.classList.add('dirty')
    }
    control.element.addEventListener('input', edited)
    control.element.addEventListener('change', edited)
    row.save.addEventListener('click', () => { save(row).catch(() => {}) })
    row.reset.addEventListener('click', () => { useDefault(row).catch(() => {}) })
    return row
  }

  /** Shows an entry that changed (or was read); an edit in progress keeps its text. */
  const update = (row: Row, entry: EffectiveEntry | undefined): void => {
    const before = row.entry
    row.entry = entry
    renderMeta(row)
    if (row.dirty) {
      if (JSON.stringify(before?.value) !== JSON.stringify(entry?.value)) note(row, 'Changed elsewhere while you were editing', 'info')
      return
    }
    row.control.show(entry?.value)
    readEtag(row).catch(() => {})
  }

  // Registered exact keys get a row even when nothing sets them.
  const registered = Object.keys(registry.keys).filter((key) => !key.endsWith('*'))

  const sync = (keys: string[] | undefined): void => {
    const all = [...new Set([...Object.keys(copy.preferences), ...registered])].sort()
    let added = false
    for (const key of keys ?? all) {
      const entry = copy.preferences[key] as EffectiveEntry | undefined
      let row = rows.get(key)
      if (entry === undefined && !registered.includes(key)) {
        row?.element.remove()
        rows.delete(key)
        continue
      }
      if (row === undefined) {
        row = makeRow(key)
        rows.set(key, row)
        added = true
      }
      update(row, entry)
    }
    if (keys === undefined) {
      for (const [key, row] of rows) {
        if (!all.includes(key)) {
          row.element.remove()
          rows.delete(key)
        }
      }
    }
    if (added) for (const key of all) { const row = rows.get(key); if (row !== undefined) form.append(row.element) }
  }

  const copy = live({
    baseUrl: api,
    token,
    // The page's tabs share one stream (a browser opens at most six connections to a server).
    shareAs: `${api} ${String(claims.sub)}`,
    onUpdate: sync,
    onHello: () => { status.textContent = `${who}. Live: changes made elsewhere show here as they happen.` },
    onError: (error, willRetry) => {
      status.textContent = willRetry
        ? `${who}. Connection lost (${messageOf(error)}): reconnecting…`
        : `Disconnected: ${messageOf(error)}. Open the page again with a valid token.`
    }
  })
  try {
    await copy.ready
  } catch (error) {
    status.textContent = `Cannot load your preferences: ${messageOf(error)}`
  }
}

main().catch((error: unknown) => {
  const status = document.getElementById('status')
  if (status !== null) status.textContent = `The page failed: ${messageOf(error)}`
})
