import type { Db } from './db.js';
import { type Prepared, prepared } from './prepared.js';

export interface Window {
  count: number;
  reset_at: number;
}

/**
 * Takes one unit from a counter that holds `max` per `windowMs`, starting its
 * window at the first hit (takeFromWindows of one counter). Under parallel
 * calls the counter never passes `max`. Answers false when the limit is reached.
 */
export async function takeFromWindow(
  db: Db,
  key: string,
  max: number,
  windowMs: number,
  now: number,
): Promise<boolean> {
  return (await takeFromWindows(db, [{ key, max, windowMs }], now)).length === 0;
}

export interface Take {
  key: string;
  max: number;
  windowMs: number;
}

/** One prepared upsert per number of counters taken together. */
const takeMany = new Map<number, Prepared<Record<string, string | number>, { key: string }>>();

function takeManyOf(n: number) {
  let query = takeMany.get(n);
  if (!query) {
    query = prepared<Record<string, string | number>, { key: string }>((db, p) => {
      const slot = (name: string, i: number) => p[`${name}${i}`] as never;
      return db
        .insertInto('rate_limits')
        .values(
          Array.from({ length: n }, (_, i) => ({
            key: slot('key', i),
            count: 1,
            reset_at: slot('reset_at', i),
          })),
        )
        .onConflict((oc) =>
          oc
            .column('key')
            .doUpdateSet((eb) => ({
              count: eb
                .case()
                .when('rate_limits.reset_at', '<=', slot('now', 0))
                .then(eb.val(1))
                .else(eb('rate_limits.count', '+', 1))
                .end(),
              reset_at: eb
                .case()
                .when('rate_limits.reset_at', '<=', slot('now', 0))
                .then(eb.ref('excluded.reset_at'))
                .else(eb.ref('rate_limits.reset_at'))
                .end(),
            }))
            .where((eb) => {
              // Each counter's own max, found by its key.
              let max = eb
                .case(eb.ref('rate_limits.key'))
                .when(eb.val(slot('key', 0)))
                .then(eb.val(slot('max', 0)));
              for (let i = 1; i < n; i++) max = max.when(eb.val(slot('key', i))).then(eb.val(slot('max', i)));
              return eb.or([
                eb('rate_limits.reset_at', '<=', slot('now', 0)),
                eb('rate_limits.count', '<', eb.cast<number>(max.end(), 'integer')),
              ]);
            }),
        )
        .returning('key');
    });
    takeMany.set(n, query);
  }
  return query;
}

/**
 * Takes one unit from each counter, each holding its `max` per its
 * `windowMs` from its first hit, in one guarded upsert (one round trip on
 * PostgreSQL instead of one per counter): under parallel calls no counter
 * ever passes its `max`. Answers the keys that were full,
 * in the order given; when any is, the caller's transaction must roll back,
 * since the others were taken. Counters are taken in key order, so that two
 * transactions taking overlapping sets lock them in the same order.
 */
export async function takeFromWindows(db: Db, takes: Take[], now: number): Promise<string[]> {
  if (takes.length === 0) return [];
  const sorted = [...takes].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const args: Record<string, string | number> = { now0: now };
  sorted.forEach((t, i) => {
    args[`key${i}`] = t.key;
    args[`max${i}`] = t.max;
    args[`reset_at${i}`] = now + t.windowMs;
  });
  const taken = new Set((await takeManyOf(sorted.length).all(db, args)).map((r) => r.key));
  return takes.filter((t) => !taken.has(t.key)).map((t) => t.key);
}

export async function readWindows(db: Db, keys: string[]): Promise<Map<string, Window>> {
  if (keys.length === 0) return new Map();
  const rows = await db.selectFrom('rate_limits').selectAll().where('key', 'in', keys).execute();
  return new Map(rows.map((r) => [r.key, { count: r.count, reset_at: r.reset_at }]));
}

/** Drops counters whose window closed: they would start from zero anyway. */
export async function deleteClosedWindows(db: Db, now: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('reset_at', '<=', now).execute();
}
