import type { Kysely, Migration } from 'kysely';

/** 0004_webhooks: see src/webhooks/. */
export const webhooksMigration: Migration = {
  async up(_db: Kysely<unknown>) {},
};
