import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';

/**
 * 0007_retention: the per-day rollups that keep usage reports whole once the
 * retention purge (src/retention/) deleted the raw OTPs and messages.
 */
export const retentionMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const counter = 'bigint' as const;
    const zero = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(0);
    await db.schema
      .createTable('report_rollups')
      .addColumn('app_id', 'text', (c) => c.notNull())
      .addColumn('day', 'integer', (c) => c.notNull())
      // '' for an unknown country: a primary key column cannot be null.
      .addColumn('country', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('otps', counter, zero)
      .addColumn('otps_delivered', counter, zero)
      .addColumn('otps_verified', counter, zero)
      .addColumn('otps_failed', counter, zero)
      .addColumn('otps_expired', counter, zero)
      .addColumn('otps_canceled', counter, zero)
      .addColumn('otps_max_attempts', counter, zero)
      .addColumn('messages', counter, zero)
      .addColumn('messages_delivered', counter, zero)
      .addColumn('messages_failed', counter, zero)
      .addColumn('segments', counter, zero)
      // Reports read one app's days in order: the key is their range scan.
      .addPrimaryKeyConstraint('report_rollups_pk', ['app_id', 'day', 'country', 'channel'])
      .execute();

    // The purge finds old template SMS by id (ids are time-ordered); OTP
    // messages go with their OTP, found through `otps_pending_expiry`.
    await db.schema
      .createIndex('messages_sms')
      .on('messages')
      .columns(['id'])
      .where(sql.ref('kind'), '=', 'sms')
      .execute();
  },
};
