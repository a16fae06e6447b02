import type { Context } from '../context.js';
import { dueCharges } from '../store/wallet.js';
import { captureCharge, releaseCharge } from './charges.js';
import { loadSettings } from './settings.js';

const SWEEP_MS = 10_000;
const BATCH = 500;

/**
 * One pass: holds of messages sent more than `capture_after` ago with no
 * receipt are captured or released per `no_receipt`; holds whose message
 * ended without settling them (none should) are settled by its outcome.
 * Each charge settles in its own transaction through the same guarded move
 * as a receipt, so the sweeper on every process and a late receipt never
 * settle one twice. Answers how many it settled.
 */
export async function sweepOnce(ctx: Context): Promise<number> {
  const settings = await loadSettings(ctx.store.db);
  const now = ctx.clock.now();
  let settled = 0;
  for (;;) {
    const due = await dueCharges(ctx.store.db, now - settings.capture_after * 1000, BATCH);
    let moved = 0;
    for (const { message_id, status } of due) {
      const capture =
        status === 'delivered' ||
        (status === 'sent' && (settings.no_receipt === 'capture' || settings.capture_on === 'sent'));
      const done = await ctx.store.tx((trx) =>
        capture ? captureCharge(trx, message_id, now) : releaseCharge(trx, message_id, now),
      );
      if (done) moved++;
    }
    settled += moved;
    // A batch another process settled under us is not progress: stop rather than spin.
    if (due.length < BATCH || moved === 0) return settled;
  }
}

/** Settles holds whose message never got a receipt; started by the runtime when workers run. */
export function startWalletSweeper(ctx: Context): { close(): Promise<void> } {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = sweepOnce(ctx)
      .then((n) => {
        if (n > 0) ctx.log.info({ settled: n }, 'settled holds of messages with no receipt');
      })
      .catch((error) => ctx.log.error({ err: error }, 'wallet sweep failed'))
      .finally(() => {
        running = undefined;
      });
  }, SWEEP_MS);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
