import type { Kysely, Migration } from 'kysely';

/** 0005_wallet: see src/wallet/. */
export const walletMigration: Migration = {
  async up(_db: Kysely<unknown>) {},
};
