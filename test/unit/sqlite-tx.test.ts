import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteTransactions } from '../../src/store/sqlite-tx.js';

interface Db {
  t: { id: number; v: string };
}

const dir = mkdtempSync(join(tmpdir(), 'otpd-sqlite-tx-'));
let db: Kysely<Db>;
let txs: SqliteTransactions<Db>;

beforeAll(async () => {
  const native = new SQLite(join(dir, 'x.db'));
  native.pragma('journal_mode = WAL');
  db = new Kysely<Db>({ dialect: new SqliteDialect({ database: native }) });
  await sql`create table t (id integer primary key, v text not null)`.execute(db);
  txs = new SqliteTransactions(db, 8);
});

afterAll(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const count = async () =>
  Number((await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows[0]!.n);

describe('SqliteTransactions (group commit)', () => {
  it('runs parallel transactions, each answered with its own result, all kept', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        txs.run(async (trx) => {
          await trx
            .insertInto('t')
            .values({ id: i, v: `v${i}` })
            .execute();
          return i * 2;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(await count()).toBe(50);
  });

  it('a failing transaction is rolled back alone; the rest of its group commits', async () => {
    const before = await count();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        txs.run(async (trx) => {
          await trx
            .insertInto('t')
            .values({ id: 1000 + i, v: 'x' })
            .execute();
          // A duplicate key half-way: its own first insert must go too.
          if (i % 3 === 0) await trx.insertInto('t').values({ id: 0, v: 'dup' }).execute();
          return i;
        }),
      ),
    );
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
    expect(failed).toEqual([0, 3, 6, 9]);
    expect(await count()).toBe(before + 6);
    const kept = await db.selectFrom('t').select('id').where('id', '>=', 1000).orderBy('id').execute();
    expect(kept.map((r) => r.id)).toEqual([1001, 1002, 1004, 1005, 1007, 1008]);
  });

  it('reads inside a transaction see its own writes and those of earlier members', async () => {
    const seen = await Promise.all(
      [1, 2, 3].map((k) =>
        txs.run(async (trx) => {
          await trx
            .insertInto('t')
            .values({ id: 5000 + k, v: 'r' })
            .execute();
          return Number(
            (await sql<{ n: number }>`select count(*) as n from t where id > 5000`.execute(trx)).rows[0]!.n,
          );
        }),
      ),
    );
    expect(seen).toEqual([1, 2, 3]);
  });

  it('a caller hears back only after the commit: another connection already sees its row', async () => {
    const other = new SQLite(join(dir, 'x.db'), { readonly: true });
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          txs
            .run(async (trx) =>
              trx
                .insertInto('t')
                .values({ id: 7000 + i, v: 'c' })
                .execute(),
            )
            .then(() => {
              expect(other.prepare('select count(*) as n from t where id = ?').get(7000 + i)).toEqual({
                n: 1,
              });
            }),
        ),
      );
    } finally {
      other.close();
    }
  });

  it('a database locked by another writer past busy_timeout: every queued caller hears SQLITE_BUSY at once', async () => {
    const native = new SQLite(join(dir, 'busy.db'));
    native.pragma('journal_mode = WAL');
    native.pragma('busy_timeout = 1000');
    native.exec('create table t (id integer primary key, v text not null)');
    const busyDb = new Kysely<Db>({ dialect: new SqliteDialect({ database: native }) });
    const group = new SqliteTransactions(busyDb);
    const holder = new SQLite(join(dir, 'busy.db'));
    holder.exec('begin immediate');
    try {
      const started = Date.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) =>
          group.run(async (trx) => trx.insertInto('t').values({ id: i, v: 'b' }).execute()),
        ),
      );
      expect(outcomes.map((o) => o.status === 'rejected' && (o.reason as { code?: string }).code)).toEqual(
        Array(5).fill('SQLITE_BUSY'),
      );
      // One busy_timeout for all of them, not one per caller (or five tries each).
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      holder.exec('rollback');
      holder.close();
    }
    expect(
      await group.run(async (trx) => trx.insertInto('t').values({ id: 9, v: 'ok' }).execute()),
    ).toBeDefined();
    await busyDb.destroy();
  });

  it('a full database: the caller hears SQLITE_FULL (not a savepoint error), and nothing half-written stays', async () => {
    const native = new SQLite(join(dir, 'full.db'));
    native.pragma('journal_mode = WAL');
    native.exec('create table t (id integer primary key, v text not null)');
    native.pragma('max_page_count = 8');
    const fullDb = new Kysely<Db>({ dialect: new SqliteDialect({ database: native }) });
    const group = new SqliteTransactions(fullDb);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) =>
        group.run(async (trx) =>
          trx
            .insertInto('t')
            .values({ id: i, v: 'x'.repeat(i === 2 ? 200_000 : 10) })
            .execute(),
        ),
      ),
    );
    const codes = outcomes.map((o) =>
      o.status === 'rejected' ? (o.reason as { code?: string }).code : 'ok',
    );
    expect(codes[2]).toBe('SQLITE_FULL');
    expect(codes.every((c) => c === 'ok' || c === 'SQLITE_FULL')).toBe(true);
    const kept = native.prepare('select id from t order by id').all() as { id: number }[];
    // What was answered ok is there; what failed is not.
    expect(kept.map((r) => r.id)).toEqual(codes.flatMap((c, i) => (c === 'ok' ? [i] : [])));
    await fullDb.destroy();
  });
});
