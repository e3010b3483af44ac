import { type Kysely, sql } from 'kysely'
import { JsonText } from '../lib/json-text.js'
import type { ScopeDefault } from '../schemas/scope-default.js'
import { compiledQuery } from './direct/compiled-statements.js'
import { isPostgres, toIso } from './preference-repository.js'
import { writeStatement, writeTransaction } from './sqlite-group-commit.js'
import type { Database, PreferenceDefaultRow } from './types.js'

type Db = Kysely<Database>

export function toScopeDefault (row: PreferenceDefaultRow): ScopeDefault {
  return {
    scope: row.scope,
    key: row.key,
    value: new JsonText(row.value),
    locked: Number(row.locked) === 1,
    last_updated_at: toIso(row.last_updated_at)
  }
}

export async function listScopeDefaults (db: Db, scope: string): Promise<ScopeDefault[]> {
  const rows = await db.selectFrom('preference_default').selectAll().where('scope', '=', scope).orderBy('key').execute()
  return rows.map(toScopeDefault)
}

export async function findScopeDefault (db: Db, scope: string, key: string): Promise<ScopeDefault | undefined> {
  const row = await db.selectFrom('preference_default').selectAll()
    .where('scope', '=', scope).where('key', '=', key).executeTakeFirst()
  return row === undefined ? undefined : toScopeDefault(row)
}

/** Sets a scope's default for `key`; `created` when there was none. */
export async function upsertScopeDefault (
  db: Db, scope: string, key: string, valueJson: string, locked: boolean, now: Date = new Date()
): Promise<{ scopeDefault: ScopeDefault, created: boolean }> {
  const values = { value: valueJson, locked: locked ? 1 : 0, last_updated_at: now.toISOString() }
  return writeTransaction(db, async (trx) => {
    const updated = await trx.updateTable('preference_default').set(values)
      .where('scope', '=', scope).where('key', '=', key).returningAll().executeTakeFirst()
    if (updated !== undefined) return { scopeDefault: toScopeDefault(updated), created: false }
    // Two first writes of one default at once: the second insert does nothing, and the
    // update after it makes it the later write, as it would have been.
    const inserted = await trx.insertInto('preference_default').values({ scope, key, ...values })
      .onConflict((oc) => oc.columns(['scope', 'key']).doUpdateSet(values))
      .returningAll().executeTakeFirstOrThrow()
    return { scopeDefault: toScopeDefault(inserted), created: true }
  })
}

export async function deleteScopeDefault (db: Db, scope: string, key: string): Promise<boolean> {
  // One statement, but a write: on SQLite it shares a batch's commit like the others.
  const result = await writeStatement(db, async (trx) =>
    trx.deleteFrom('preference_default').where('scope', '=', scope).where('key', '=', key).executeTakeFirst())
  return Number(result.numDeletedRows) > 0
}

/** The locks among `scopes` on any of `keys`. */
export async function findLocks (db: Db, scopes: readonly string[], keys: readonly string[]): Promise<Array<{ scope: string, key: string }>> {
  if (keys.length === 0) return []
  if (keys.length === 1) return lockQuery(db, { scopes: JSON.stringify(scopes), key: keys[0] })
  return db.selectFrom('preference_default').select(['scope', 'key'])
    .where('locked', '=', 1).where('scope', 'in', [...scopes]).where('key', 'in', [...keys]).execute()
}

/** `value IN` a JSON array parameter, on either backend: one statement text for any number of scopes. */
const inJsonArray = (db: Kysely<Database>, column: 'scope' | 'key', array: never) =>
  isPostgres(db)
    ? sql<boolean>`${sql.ref(column)} in (select jsonb_array_elements_text(cast(${array} as jsonb)))`
    : sql<boolean>`${sql.ref(column)} in (select value from json_each(${array}))`

// The lock check runs before every write by a non-admin: compiled once (db/direct/).
const lockQuery = compiledQuery<'scopes' | 'key', { scope: string, key: string }>((db, p) =>
  db.selectFrom('preference_default').select(['scope', 'key'])
    .where('locked', '=', sql.lit(1)).where('key', '=', p('key')).where(inJsonArray(db, 'scope', p('scopes'))))

/** The scope of the row findLayers adds for the user's revision (not a valid scope name). */
export const REVISION_ROW = '#rev'

/** What the effective view is made of: the user's own rows (scope null) and the scopes' defaults. */
export interface LayerRow {
  scope: string | null
  key: string
  value: string
  locked: number
}

/** The layers of the whole view, or (with `keys`) of some keys; the revision rides along. */
const layersQuery = (keyed: boolean) => compiledQuery<'userId' | 'scopes' | 'keys', LayerRow>((db, p) => {
  let user = db.selectFrom('user_preference')
    .select([sql<string | null>`null`.as('scope'), 'key', 'value', sql<number>`0`.as('locked')])
    .where('user_id', '=', p('userId'))
  let defaults = db.selectFrom('preference_default')
    .select(['scope', 'key', 'value', 'locked'])
    .where(inJsonArray(db, 'scope', p('scopes')))
  if (keyed) {
    user = user.where(inJsonArray(db, 'key', p('keys')))
    defaults = defaults.where(inJsonArray(db, 'key', p('keys')))
  }
  // The user's revision (scope REVISION_ROW), so that the view stays one round trip.
  const revision = db.selectFrom('user_revision')
    .select([sql<string>`${sql.lit(REVISION_ROW)}`.as('scope'), sql<string>`''`.as('key'), sql<string>`cast(rev as text)`.as('value'), sql<number>`0`.as('locked')])
    .where('user_id', '=', p('userId'))
  return user.unionAll(defaults).unionAll(revision)
})
// Read on every page load of an app: compiled once (db/direct/).
const allLayers = layersQuery(false)
const someLayers = layersQuery(true)

/**
 * The user's preferences and the defaults of `scopes`, optionally only for `keys`: one
 * statement, so the whole view is one round trip.
 */
export async function findLayers (
  db: Db, userId: number, scopes: readonly string[], keys?: readonly string[]
): Promise<LayerRow[]> {
  const scopesJson = JSON.stringify(scopes)
  if (keys === undefined) return allLayers(db, { userId, scopes: scopesJson, keys: undefined })
  return someLayers(db, { userId, scopes: scopesJson, keys: JSON.stringify(keys) })
}
