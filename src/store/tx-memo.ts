import type { Db } from './db.js';

const memos = new WeakMap<Db, Map<string, Promise<unknown>>>();

/**
 * Reads `key` once per transaction: later reads in the same transaction get
 * the first answer. For reference data a transaction does not change itself
 * (an app's webhook endpoints, the wallet settings), read again for every row
 * of a grouped write. Outside a transaction it always reads.
 */
export function readOncePerTx<T>(db: Db, key: string, read: () => Promise<T>): Promise<T> {
  if (!db.isTransaction) return read();
  let memo = memos.get(db);
  if (!memo) {
    memo = new Map();
    memos.set(db, memo);
  }
  let found = memo.get(key) as Promise<T> | undefined;
  if (!found) {
    found = read();
    memo.set(key, found);
  }
  return found;
}
