import { type Kysely, sql } from 'kysely'

// Released: never edit. Add a new migration instead.

// Each user's number of preferences beside the revision, so that one statement can check the
// per-user limit on a row it locks (PostgreSQL's single-statement create). Every user who holds
// preferences gets a revision row.
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('user_revision')
    .addColumn('preference_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
  await sql`insert into user_revision (user_id, rev, floor, preference_count)
    select user_id, 0, 0, 0 from user_preference where true group by user_id
    on conflict (user_id) do nothing`.execute(db)
  await sql`update user_revision set preference_count =
    (select count(*) from user_preference p where p.user_id = user_revision.user_id)`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('user_revision').dropColumn('preference_count').execute()
}
