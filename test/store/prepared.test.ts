import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, readsOf, type Store } from '../../src/store/db.js';
import { findOtp } from '../../src/store/otps.js';
import { prepared, preparedInsert } from '../../src/store/prepared.js';
import { readWindows, takeFromWindows } from '../../src/store/rate-limits.js';
import { backend, freshDatabaseUrl } from '../harness.js';

let store: Store;
let url: string;

beforeAll(async () => {
  url = await freshDatabaseUrl();
  store = await openStore({ url });
});

afterAll(async () => {
  await store.close();
});

const windowsOf = prepared<{ min: number; prefix: string }, { key: string; count: number }>((db, p) =>
  db
    .selectFrom('rate_limits')
    .select(['key', 'count'])
    // 'fixed:%' is a constant of the query; the slots change per call.
    .where((eb) => eb.or([eb('key', 'like', p.prefix), eb('key', '=', 'fixed:1')]))
    .where('count', '>=', p.min)
    .orderBy('key'),
);

const insertWindow = preparedInsert('rate_limits');

describe(`prepared queries (${backend})`, () => {
  it('answers as the same query built per call, with new arguments each call', async () => {
    for (const [key, count] of [
      ['a:1', 1],
      ['a:2', 5],
      ['b:1', 7],
      ['fixed:1', 9],
    ] as const) {
      expect(await insertWindow(store.db, { key, count, reset_at: 1_000 })).toBe(1);
    }
    expect(await windowsOf.all(store.db, { prefix: 'a:%', min: 2 })).toEqual([
      { key: 'a:2', count: 5 },
      { key: 'fixed:1', count: 9 },
    ]);
    expect(await windowsOf.all(store.db, { prefix: 'b:%', min: 0 })).toEqual([
      { key: 'b:1', count: 7 },
      { key: 'fixed:1', count: 9 },
    ]);
    const built = await store.db
      .selectFrom('rate_limits')
      .select(['key', 'count'])
      .where((eb) => eb.or([eb('key', 'like', 'a:%'), eb('key', '=', 'fixed:1')]))
      .where('count', '>=', 1)
      .orderBy('key')
      .execute();
    expect(await windowsOf.all(store.db, { prefix: 'a:%', min: 1 })).toEqual(built);
    expect(await windowsOf.first(store.db, { prefix: 'none:%', min: 10 })).toBeUndefined();
  });

  it('runs inside a transaction and rolls back with it', async () => {
    await expect(
      store.tx(async (trx) => {
        await insertWindow(trx, { key: 'c:1', count: 1, reset_at: 1 });
        expect(await windowsOf.all(trx, { prefix: 'c:%', min: 0 })).toHaveLength(2);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await windowsOf.all(store.db, { prefix: 'c:%', min: 0 })).toEqual([{ key: 'fixed:1', count: 9 }]);
  });

  it('refuses a query whose builder inlines a slot into the SQL instead of binding it', async () => {
    const inlined = prepared<{ key: string }, { key: string }>((db, p) =>
      db.selectFrom('rate_limits').select('key').where('key', '=', sql.lit(p.key)),
    );
    await expect(inlined.all(store.db, { key: 'a:1' })).rejects.toThrow(/inlined/);
  });

  it('an insert leaves out columns given as undefined, which then take their default', async () => {
    const insertActivity = preparedInsert('activity_log');
    const row = {
      id: 'act_prepared_1',
      account_id: 'acc_x',
      app_id: null,
      type: 'app.created',
      otp_id: null,
      key_id: undefined,
      detail: '{}',
      created_at: 5,
    };
    expect(await insertActivity(store.db, row)).toBe(1);
    expect(await insertActivity(store.db, { ...row, id: 'act_prepared_2', key_id: 'key_y' })).toBe(1);
    const rows = await store.db
      .selectFrom('activity_log')
      .select(['id', 'key_id'])
      .where('id', 'like', 'act_prepared_%')
      .orderBy('id')
      .execute();
    expect(rows).toEqual([
      { id: 'act_prepared_1', key_id: null },
      { id: 'act_prepared_2', key_id: 'key_y' },
    ]);
  });
});

describe(`takeFromWindows (${backend})`, () => {
  const takes = (prefix: string, maxes: number[]) =>
    maxes.map((max, i) => ({ key: `${prefix}:${i}`, max, windowMs: 60_000 }));

  it('takes every counter while each has room, and names the full ones in the order given', async () => {
    const now = 1_000_000;
    const t = takes('w', [3, 1, 2]);
    expect(await takeFromWindows(store.db, t, now)).toEqual([]);
    // w:1 (max 1) is full now; the others were taken again.
    expect(await takeFromWindows(store.db, t, now + 1)).toEqual(['w:1']);
    expect(await takeFromWindows(store.db, t, now + 2)).toEqual(['w:1', 'w:2']);
    const windows = await readWindows(store.db, ['w:0', 'w:1', 'w:2']);
    expect(windows.get('w:0')).toEqual({ count: 3, reset_at: now + 60_000 });
    expect(windows.get('w:1')).toEqual({ count: 1, reset_at: now + 60_000 });
    expect(windows.get('w:2')).toEqual({ count: 2, reset_at: now + 60_000 });
    // Once the window is over, every counter starts again at 1 with a new window.
    const later = now + 60_000;
    expect(await takeFromWindows(store.db, t, later)).toEqual([]);
    expect((await readWindows(store.db, ['w:1'])).get('w:1')).toEqual({ count: 1, reset_at: later + 60_000 });
  });

  it('is exact under parallel transactions: of 40 takes with room for 7, exactly 7 commit', async () => {
    const now = 2_000_000;
    const t = [
      { key: 'p:phone', max: 7, windowMs: 60_000 },
      { key: 'p:key', max: 100, windowMs: 60_000 },
    ];
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, () =>
        store
          .tx(async (trx) => {
            const full = await takeFromWindows(trx, t, now);
            if (full.length > 0) throw new Error(`full: ${full.join(',')}`);
          })
          .then(
            () => 'taken',
            (error: Error) => error.message,
          ),
      ),
    );
    expect(outcomes.filter((o) => o === 'taken')).toHaveLength(7);
    expect(outcomes.filter((o) => o === 'full: p:phone')).toHaveLength(33);
    const windows = await readWindows(store.db, ['p:phone', 'p:key']);
    // The refused transactions rolled back: p:key counts only the 7 that committed.
    expect(windows.get('p:phone')?.count).toBe(7);
    expect(windows.get('p:key')?.count).toBe(7);
  });
});

describe(`the reader (${backend})`, () => {
  it('sees what was committed, never the rows of a transaction still open', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const wrote = new Promise<void>((r) => (inserted = r));
    const tx = store.tx(async (trx) => {
      await insertWindow(trx, { key: 'r:1', count: 1, reset_at: 1 });
      inserted();
      await held;
    });
    await wrote;
    expect(await readWindows(readsOf(store), ['r:1'])).toEqual(new Map());
    release();
    await tx;
    expect((await readWindows(readsOf(store), ['r:1'])).get('r:1')).toEqual({ count: 1, reset_at: 1 });
  });
});

describe(`prepared statements across a migration (${backend})`, () => {
  it('are named statements on PostgreSQL, and go on working when a migration adds a column', async () => {
    // One connection, so that what it prepared can be seen from it.
    const one = await openStore({ url, poolSize: 1 });
    try {
      await insertWindow(one.db, { key: 'm:1', count: 2, reset_at: 3 });
      const read = () => windowsOf.all(one.db, { prefix: 'm:%', min: 0 });
      const expected = [
        { key: 'fixed:1', count: 9 },
        { key: 'm:1', count: 2 },
      ];
      expect(await read()).toEqual(expected);
      expect(await findOtp(one.db, 'app_x', 'otp_none')).toBeUndefined();
      if (backend === 'postgres') {
        const named = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(one.db);
        expect(named.rows.filter((r) => r.name.startsWith('otpd_')).length).toBeGreaterThanOrEqual(3);
      }
      // What `otpd migrate` of a newer release does while this process runs.
      await sql`alter table rate_limits add column extra text`.execute(store.db);
      await sql`alter table otps add column extra text`.execute(store.db);
      expect(await read()).toEqual(expected);
      expect(await findOtp(one.db, 'app_x', 'otp_none')).toBeUndefined();
    } finally {
      await one.close();
    }
  });
});
