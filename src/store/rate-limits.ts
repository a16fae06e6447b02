import type { Db } from './db.js';

export interface Window {
  count: number;
  reset_at: number;
}

/**
 * (`eb.val`: a bare value in `then` is inlined as a literal, which made every
 * call a new SQL text, prepared anew and evicting the statement cache.)
 *
 * Takes one unit from a counter that holds `max` per `windowMs`, starting its
 * window at the first hit. One guarded upsert: under parallel calls the
 * counter never passes `max`. Answers undefined when the limit is reached.
 */
export async function takeFromWindow(
  db: Db,
  key: string,
  max: number,
  windowMs: number,
  now: number,
): Promise<Window | undefined> {
  return db
    .insertInto('rate_limits')
    .values({ key, count: 1, reset_at: now + windowMs })
    .onConflict((oc) =>
      oc
        .column('key')
        .doUpdateSet((eb) => ({
          count: eb
            .case()
            .when('rate_limits.reset_at', '<=', now)
            .then(eb.val(1))
            .else(eb('rate_limits.count', '+', 1))
            .end(),
          reset_at: eb
            .case()
            .when('rate_limits.reset_at', '<=', now)
            .then(eb.val(now + windowMs))
            .else(eb.ref('rate_limits.reset_at'))
            .end(),
        }))
        .where((eb) => eb.or([eb('rate_limits.reset_at', '<=', now), eb('rate_limits.count', '<', max)])),
    )
    .returning(['count', 'reset_at'])
    .executeTakeFirst();
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
