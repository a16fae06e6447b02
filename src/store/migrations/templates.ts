import { type Kysely, type Migration, PostgresAdapter, sql } from 'kysely';

/** 0003_templates: transactional SMS templates, per account (see src/templates/). */
export const templatesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // Ids compare bytewise for cursor pagination (see 0001_core).
    const id = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
    await db.schema
      .createTable('templates')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('app_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('use_case', 'text', (c) => c.notNull())
      .addColumn('variables', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('rejection_reason', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('reviewed_at', 'bigint')
      .addColumn('deleted_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('templates_account')
      .on('templates')
      .columns(['account_id', 'status', 'id'])
      .execute();
    // The operator's review queue reads by status across accounts.
    await db.schema.createIndex('templates_status').on('templates').columns(['status', 'id']).execute();
  },
};
