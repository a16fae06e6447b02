import { type Kysely, type Migration, PostgresAdapter, sql } from 'kysely';

/** 0005_wallet: the ledger, per-message charges, prices, wallet settings and report indexes (see src/wallet/). */
export const walletMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // Ids compare bytewise for cursor pagination (see 0001_core).
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
    const id = postgres ? sql`text collate "C"` : sql`text`;

    await db.schema
      .alterTable('accounts')
      .addColumn('low_balance_threshold', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();

    await db.schema
      .createTable('ledger_entries')
      .addColumn('id', id, (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
      .addColumn('app_id', 'text')
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('amount', 'bigint', (c) => c.notNull())
      .addColumn('held_change', 'bigint', (c) => c.notNull())
      .addColumn('balance_after', 'bigint', (c) => c.notNull())
      .addColumn('reference', 'text', (c) => c.notNull())
      .addColumn('note', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    // Top-ups replay by reference, and no message is held, captured or released twice.
    await db.schema
      .createIndex('ledger_reference')
      .on('ledger_entries')
      .columns(['account_id', 'type', 'reference'])
      .unique()
      .execute();
    await db.schema
      .createIndex('ledger_account')
      .on('ledger_entries')
      .columns(['account_id', 'id'])
      .execute();

    await db.schema
      .createTable('charges')
      .addColumn('message_id', id, (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('app_id', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('country', 'text')
      .addColumn('units', 'integer', (c) => c.notNull())
      .addColumn('unit_price', 'bigint', (c) => c.notNull())
      .addColumn('amount', 'bigint', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('settled_at', 'bigint')
      .execute();
    // Open holds are few (messages in flight): the balance's `held` and the sweeper read only them.
    await db.schema
      .createIndex('charges_held')
      .on('charges')
      .columns(['account_id', 'created_at'])
      .where(sql.ref('state'), '=', 'held')
      .execute();
    await db.schema
      .createIndex('charges_held_age')
      .on('charges')
      .columns(['created_at'])
      .where(sql.ref('state'), '=', 'held')
      .execute();
    // Usage reports: cost by app and time, read from the index alone.
    await db.schema
      .createIndex('charges_report')
      .on('charges')
      .columns(['app_id', 'created_at', 'state', 'channel', 'country', 'amount'])
      .execute();

    await db.schema
      .createTable('prices')
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('country', 'text', (c) => c.notNull())
      .addColumn('price', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('prices_pk', ['currency', 'channel', 'country'])
      .execute();

    await db.schema
      .createTable('wallet_settings')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('capture_on', 'text', (c) => c.notNull())
      .addColumn('capture_after', 'integer', (c) => c.notNull())
      .addColumn('no_receipt', 'text', (c) => c.notNull())
      .addColumn('trial_otps', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await (db as Kysely<{ wallet_settings: Record<string, unknown> }>)
      .insertInto('wallet_settings')
      .values({
        id: 1,
        capture_on: 'delivered',
        capture_after: 3600,
        no_receipt: 'capture',
        trial_otps: 0,
        updated_at: 0,
      })
      .execute();

    // Usage reports (src/reports/): range scans of covering indexes.
    await db.schema
      .createIndex('otps_report')
      .on('otps')
      .columns(['app_id', 'created_at', 'status', 'channel', 'country', 'id'])
      .execute();
    await db.schema
      .createIndex('messages_report')
      .on('messages')
      .columns(['app_id', 'created_at', 'channel', 'country'])
      .execute();
    // "Delivered": which OTPs of an app had a message delivered (probed per
    // OTP on SQLite, joined on PostgreSQL; see src/store/reports.ts).
    await db.schema
      .createIndex('messages_delivered')
      .on('messages')
      .columns(['app_id', 'otp_id', 'created_at'])
      .where(sql.ref('status'), '=', 'delivered')
      .execute();
    if (postgres) {
      // otp_id holds ids like otps.id (collate "C", see 0001_core). With the
      // database's default collation PostgreSQL could not use an index to
      // match one against the other (the report's join scanned messages once
      // per OTP); matching collations make the join an index join.
      await sql`alter table messages alter column otp_id type text collate "C"`.execute(db);
    }
  },
};
