import {
  type Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresAdapter,
  SqliteAdapter,
  sql,
} from 'kysely';
import { dashboardMigration } from './migrations/dashboard.js';
import { retentionMigration } from './migrations/retention.js';
import { templatesMigration } from './migrations/templates.js';
import { walletMigration } from './migrations/wallet.js';
import { webhooksMigration } from './migrations/webhooks.js';

/** Migrations in code, one dialect-neutral schema; append, never edit a shipped one. */
const migrations: Record<string, Migration> = {
  '0001_core': {
    async up(db: Kysely<unknown>) {
      // Ids are time-ordered base62 and lists page by id: they must compare
      // bytewise. SQLite's text does; PostgreSQL's follows the database's
      // collation (en_US would sort 'a' before 'B'), unless told "C".
      const id = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('accounts')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('balance', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('apps')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('code_type', 'text', (c) => c.notNull())
        .addColumn('code_length', 'integer', (c) => c.notNull())
        .addColumn('expiry', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('resend_cooldown', 'integer', (c) => c.notNull())
        .addColumn('channels', 'text', (c) => c.notNull())
        .addColumn('default_channel', 'text', (c) => c.notNull())
        .addColumn('default_country', 'text')
        .addColumn('sender_id', 'text')
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('allowed_countries', 'text')
        .addColumn('allow_custom_code', 'integer', (c) => c.notNull())
        .addColumn('limits', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('apps_account').on('apps').columns(['account_id', 'id']).execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id'))
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('last4', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('api_keys_app').on('api_keys').columns(['app_id']).execute();

      await db.schema
        .createTable('otps')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id'))
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('phone', 'text', (c) => c.notNull())
        .addColumn('country', 'text')
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('code_type', 'text', (c) => c.notNull())
        .addColumn('code_length', 'integer', (c) => c.notNull())
        .addColumn('code_hmac', 'text', (c) => c.notNull())
        .addColumn('code_ciphertext', 'text')
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('sender_id', 'text')
        .addColumn('locale', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('resend_cooldown', 'integer', (c) => c.notNull())
        .addColumn('send_count', 'integer', (c) => c.notNull())
        .addColumn('last_sent_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('reference', 'text')
        .addColumn('metadata', 'text')
        .addColumn('ip', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('verified_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .execute();
      // At most one pending OTP per phone and app: the race gate of send.
      await db.schema
        .createIndex('otps_one_pending')
        .on('otps')
        .columns(['app_id', 'phone'])
        .unique()
        .where(sql.ref('status'), '=', 'pending')
        .execute();
      await db.schema.createIndex('otps_app_list').on('otps').columns(['app_id', 'id']).execute();
      await db.schema.createIndex('otps_app_phone').on('otps').columns(['app_id', 'phone', 'id']).execute();
      await db.schema.createIndex('otps_app_reference').on('otps').columns(['app_id', 'reference']).execute();
      await db.schema
        .createIndex('otps_pending_expiry')
        .on('otps')
        .columns(['status', 'expires_at'])
        .execute();

      await db.schema
        .createTable('otp_attempts')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('otp_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('otp_attempts_otp').on('otp_attempts').columns(['otp_id', 'id']).execute();

      await db.schema
        .createTable('messages')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('otp_id', 'text')
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('phone', 'text', (c) => c.notNull())
        .addColumn('sender_id', 'text')
        .addColumn('provider', 'text')
        .addColumn('provider_message_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('tries', 'integer', (c) => c.notNull())
        .addColumn('next_try_at', 'bigint', (c) => c.notNull())
        .addColumn('text_ciphertext', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('sent_at', 'bigint')
        .execute();
      await db.schema.createIndex('messages_due').on('messages').columns(['status', 'next_try_at']).execute();
      await db.schema.createIndex('messages_otp').on('messages').columns(['otp_id']).execute();

      await db.schema
        .createTable('inbox_messages')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('message_id', 'text', (c) => c.notNull().unique())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('phone', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('sender_id', 'text')
        .addColumn('text_ciphertext', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('inbox_phone').on('inbox_messages').columns(['phone', 'id']).execute();

      await db.schema
        .createTable('rate_limits')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('reset_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('idempotency_keys')
        .addColumn('scope_key', 'text', (c) => c.primaryKey())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('response_body', 'text')
        .addColumn('locked_until', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('activity_log')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('app_id', 'text')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('otp_id', 'text')
        .addColumn('key_id', 'text')
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('activity_app').on('activity_log').columns(['app_id', 'id']).execute();
    },
  },
  '0002_delivery': {
    async up(db: Kysely<unknown>) {
      // One statement per column: SQLite's ALTER TABLE adds one at a time.
      const messageColumns: [string, 'text' | 'integer' | 'bigint', string | number | null][] = [
        ['kind', 'text', 'otp'],
        ['country', 'text', null],
        ['locale', 'text', null],
        ['step', 'integer', 0],
        ['provider_index', 'integer', 0],
        ['provider_tries', 'integer', 0],
        ['segments', 'integer', null],
        ['submitted_at', 'bigint', null],
        ['delivered_at', 'bigint', null],
        ['failed_at', 'bigint', null],
        ['fallback_at', 'bigint', null],
      ];
      for (const [name, type, fallback] of messageColumns) {
        await db.schema
          .alterTable('messages')
          .addColumn(name, type, (c) => (fallback === null ? c : c.notNull().defaultTo(fallback)))
          .execute();
      }
      await db.schema
        .createIndex('messages_provider_id')
        .on('messages')
        .columns(['provider', 'provider_message_id'])
        .execute();
      await db.schema.createIndex('messages_fallback').on('messages').columns(['fallback_at']).execute();
      // USSD reads a caller's pending codes across apps.
      await db.schema.createIndex('otps_phone_status').on('otps').columns(['phone', 'status']).execute();

      await db.schema
        .alterTable('apps')
        .addColumn('fallback_channels', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema
        .alterTable('apps')
        .addColumn('fallback_after', 'integer', (c) => c.notNull().defaultTo(30))
        .execute();
      await db.schema.alterTable('apps').addColumn('send_channels', 'text').execute();
    },
  },
  '0003_templates': templatesMigration,
  '0004_webhooks': webhooksMigration,
  '0005_wallet': walletMigration,
  '0006_dashboard': dashboardMigration,
  '0007_retention': retentionMigration,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to date; safe to run from several processes at once. */
export async function migrate(db: Kysely<unknown>): Promise<string[]> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    // Kysely's SQLite migration lock is a no-op (it assumes one connection), so
    // two processes starting together on a fresh file both ran 0001 and one
    // failed ("table meta already exists"). BEGIN IMMEDIATE takes the file's
    // write lock first (the other waits on busy_timeout) and then sees what the
    // other committed; the migrator runs inside it without its own transaction.
    return db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const applied = await runMigrator(conn, true);
        await sql`commit`.execute(conn);
        return applied;
      } catch (error) {
        await sql`rollback`.execute(conn);
        throw error;
      }
    });
  }
  return runMigrator(db, false);
}

async function runMigrator(db: Kysely<unknown>, disableTransactions: boolean): Promise<string[]> {
  const migrator = new Migrator({ db, provider, disableTransactions });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
