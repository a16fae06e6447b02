import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { systemClock } from './core/clock.js';
import { deriveKeyring } from './core/crypto.js';
import { InboxProvider } from './delivery/inbox.js';
import { deliveryMetrics } from './delivery/metrics.js';
import { DeliveryWorker } from './delivery/worker.js';
import { buildServer } from './http/server.js';
import { sweepExpiredOtps } from './otp/expiry.js';
import { openStore } from './store/db.js';
import { deleteExpiredIdempotencyKeys } from './store/idempotency.js';
import { countDueMessages } from './store/messages.js';
import { deleteClosedWindows } from './store/rate-limits.js';

export interface Otpd {
  ctx: Context;
  server: FastifyInstance;
  worker: DeliveryWorker;
  /** Stops taking requests, finishes the work in hand, closes the database. */
  close(): Promise<void>;
}

const SWEEP_MS = 5_000;
let defaultMetrics = false;

/** Opens the store (migrating it), wires services, worker and HTTP server. Does not listen. */
export async function createOtpd(config: Config, log: Logger): Promise<Otpd> {
  const store = await openStore({ url: config.databaseUrl });
  if (!defaultMetrics) {
    collectDefaultMetrics();
    defaultMetrics = true;
  }
  let worker: DeliveryWorker | undefined;
  const ctx: Context = {
    store,
    clock: systemClock,
    keyring: deriveKeyring(config.secret),
    log,
    wakeDelivery: () => worker?.wake(),
  };
  const inbox = new InboxProvider(ctx);
  // Until real providers and routes exist (a later issue), every message goes to the inbox.
  worker = new DeliveryWorker(ctx, () => inbox);
  const server = await buildServer(ctx, { adminToken: config.adminToken });

  let sweeper: NodeJS.Timeout | undefined;
  if (config.workers) {
    worker.start();
    sweeper = setInterval(() => {
      Promise.all([
        sweepExpiredOtps(ctx),
        deleteExpiredIdempotencyKeys(store.db, ctx.clock.now()),
        deleteClosedWindows(store.db, ctx.clock.now()),
        countDueMessages(store.db).then((n) => deliveryMetrics.outboxDepth.set(n)),
      ]).catch((error) => log.error({ err: error }, 'sweep failed'));
    }, SWEEP_MS);
    sweeper.unref();
  }

  return {
    ctx,
    server,
    worker,
    async close() {
      clearInterval(sweeper);
      await server.close();
      await worker.stop();
      await store.close();
    },
  };
}
