import type { Kysely, Migration } from 'kysely';

/** 0003_templates: see src/templates/. */
export const templatesMigration: Migration = {
  async up(_db: Kysely<unknown>) {},
};
