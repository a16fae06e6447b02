import { type Kysely, sql } from 'kysely';

interface Queued<D> {
  fn: (trx: Kysely<D>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
const PENDING: Outcome = { ok: false, error: new Error('transaction did not run') };

/**
 * Group commit for SQLite's write transactions. SQLite has one writer, and a
 * commit (writing the transaction's pages to the WAL) cost as much as all of
 * a send's statements together. Transactions that arrive while one runs are
 * queued; the runner takes the connection once, opens one `BEGIN IMMEDIATE`,
 * runs each queued transaction inside its own SAVEPOINT (a failing one is
 * rolled back alone), lets the event loop turn once so that requests that
 * arrived meanwhile can join, and commits them together.
 *
 * Nobody hears back before the commit: every caller's promise settles after
 * it, so an answer never rests on a write that a crash could still undo. The
 * runner holds the connection from BEGIN to COMMIT, so reads outside a
 * transaction never see a group's uncommitted rows.
 */
export class SqliteTransactions<D> {
  private queue: Queued<D>[] = [];
  private running = false;

  constructor(
    private readonly db: Kysely<D>,
    /** The most transactions in one commit. */
    private readonly max = 64,
  ) {}

  run<T>(fn: (trx: Kysely<D>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) await this.group();
    } finally {
      this.running = false;
    }
  }

  /** One BEGIN … COMMIT for the transactions queued now and those that join before it ends. */
  private async group(): Promise<void> {
    const members: { item: Queued<D>; outcome: Outcome }[] = [];
    try {
      await this.db.connection().execute(async (conn) => {
        await withBusyRetry(() => sql`begin immediate`.execute(conn));
        try {
          for (;;) {
            const item = this.queue.shift();
            if (!item) {
              if (members.length >= this.max) break;
              // One turn of the event loop: requests read meanwhile reach run() and join.
              await new Promise<void>((r) => setImmediate(r));
              if (this.queue.length === 0) break;
              continue;
            }
            const member: { item: Queued<D>; outcome: Outcome } = { item, outcome: PENDING };
            members.push(member);
            member.outcome = await savepoint(conn, item.fn);
            if (members.length >= this.max) break;
          }
          await sql`commit`.execute(conn);
        } catch (error) {
          await sql`rollback`.execute(conn).catch(() => {});
          throw error;
        }
      });
    } catch (error) {
      // BEGIN or COMMIT failed (locked past busy_timeout, disk full, I/O), or
      // SQLite rolled the whole transaction back by itself: nothing of the
      // group was kept. When BEGIN failed, the callers queued now would only
      // wait the same lock again: they hear it at once too.
      for (const m of members) m.item.reject(error);
      if (members.length === 0) for (const item of this.queue.splice(0)) item.reject(error);
      return;
    }
    for (const { item, outcome } of members) {
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    }
  }
}

async function savepoint<D>(conn: Kysely<D>, fn: (trx: Kysely<D>) => Promise<unknown>): Promise<Outcome> {
  await sql`savepoint tx`.execute(conn);
  try {
    const value = await fn(conn);
    await sql`release tx`.execute(conn);
    return { ok: true, value };
  } catch (error) {
    try {
      await sql`rollback to tx`.execute(conn);
      await sql`release tx`.execute(conn);
    } catch {
      // SQLite already rolled the whole transaction back (SQLITE_FULL, an
      // I/O error): the group is lost, and the first error says why.
      throw error;
    }
    return { ok: false, error };
  }
}

const BUSY = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT']);
/** SQLITE_BUSY after this long is busy_timeout running out: another wait would only pile requests up. */
const BUSY_GAVE_UP_MS = 1_000;

/** BEGIN IMMEDIATE waits busy_timeout for another process's writer; a busy answer that came fast is tried again. */
async function withBusyRetry<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= 5 || !code || !BUSY.has(code) || Date.now() - started >= BUSY_GAVE_UP_MS) throw error;
      await new Promise((r) => setTimeout(r, attempt * 10 + Math.random() * 20));
    }
  }
}
