import { type Kysely, type Migration, PostgresAdapter, sql } from 'kysely';

/** 0006_dashboard: people who log in, their sessions, mail and live-mode requests (see src/dashboard/). */
export const dashboardMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // Ids compare bytewise on both dialects (see 0001).
    const id = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;

    await db.schema
      .createTable('users')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('email', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.references('accounts.id'))
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('email_verified_at', 'bigint')
      .addColumn('totp_secret_ciphertext', 'text')
      .addColumn('totp_pending_ciphertext', 'text')
      .addColumn('totp_enabled_at', 'bigint')
      .addColumn('totp_last_step', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('users_account').on('users').columns(['account_id']).execute();

    await db.schema
      .createTable('user_recovery_codes')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('user_recovery_codes_user')
      .on('user_recovery_codes')
      .columns(['user_id', 'hash'])
      .execute();

    await db.schema
      .createTable('dashboard_sessions')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('second_factor_done', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('ip', 'text')
      .addColumn('user_agent', 'text')
      .execute();
    await db.schema
      .createIndex('dashboard_sessions_user')
      .on('dashboard_sessions')
      .columns(['user_id'])
      .execute();

    await db.schema
      .createTable('user_tokens')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('user_tokens_user')
      .on('user_tokens')
      .columns(['user_id', 'purpose'])
      .execute();

    await db.schema
      .createTable('mail_outbox')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('to_address', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('body_ciphertext', 'text')
      .addColumn('transport', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('sent_at', 'bigint')
      .execute();
    await db.schema.createIndex('mail_outbox_to').on('mail_outbox').columns(['to_address', 'id']).execute();

    await db.schema
      .createTable('live_requests')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('use_case', 'text', (c) => c.notNull())
      .addColumn('expected_volume', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('review_note', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('reviewed_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('live_requests_account')
      .on('live_requests')
      .columns(['account_id', 'id'])
      .execute();
    // At most one pending request per account: the race gate of asking twice at once.
    await db.schema
      .createIndex('live_requests_one_pending')
      .on('live_requests')
      .columns(['account_id'])
      .unique()
      .where(sql.ref('status'), '=', 'pending')
      .execute();
    await db.schema
      .createIndex('live_requests_status')
      .on('live_requests')
      .columns(['status', 'id'])
      .execute();
  },
};
