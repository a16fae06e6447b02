import { sql } from 'kysely';
import type { Db, Store } from './db.js';

/**
 * Runs reads that must agree with one another in one snapshot: the raw rows
 * of a report and the rollups of purged rows, which a purge moves from one
 * to the other in one transaction. Read apart, a purge committing between
 * them counted a batch twice or not at all.
 */
export function readSnapshot<T>(store: Store, fn: (db: Db) => Promise<T>): Promise<T> {
  if (store.dialect === 'postgres') {
    return store.db.transaction().setIsolationLevel('repeatable read').execute(fn);
  }
  // SQLite: a deferred BEGIN reads one snapshot from its first read to COMMIT.
  return store.db.connection().execute(async (conn) => {
    await sql`begin`.execute(conn);
    try {
      return await fn(conn);
    } finally {
      await sql`commit`.execute(conn).catch(() => {});
    }
  });
}
