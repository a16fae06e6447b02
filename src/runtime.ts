import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { systemClock } from './core/clock.js';
import { deriveKeyring } from './core/crypto.js';
import { EMPTY_DELIVERY, loadDeliveryConfig } from './delivery/config.js';
import { deliveryMetrics } from './delivery/metrics.js';
import { buildDelivery, type Delivery, PROVIDER_SCHEMAS } from './delivery/registry.js';
import { DeliveryWorker } from './delivery/worker.js';
import { buildServer } from './http/server.js';
import { sweepExpiredOtps } from './otp/expiry.js';
import { purgeOldRows } from './retention/purge.js';
import { deleteExpiredSessions } from './store/dashboard.js';
import { openStore } from './store/db.js';
import { deleteExpiredIdempotencyKeys } from './store/idempotency.js';
import { countDueMessages, oldestDueAge } from './store/messages.js';
import { deleteClosedWindows } from './store/rate-limits.js';
import { startWalletSweeper } from './wallet/sweeper.js';
import { startWebhookDispatcher } from './webhooks/dispatcher.js';

export interface Otpd {
  ctx: Context;
  server: FastifyInstance;
  worker: DeliveryWorker;
  delivery: Delivery;
  /**
   * Stops taking requests and finishes those in flight, while the workers
   * stop and hand back the jobs they claimed but did not start; then closes
   * the database. Bounded by the callers (OTPD_SHUTDOWN_TIMEOUT).
   */
  close(): Promise<void>;
}

const SWEEP_MS = 5_000;
/** How often old rows are purged (in small batches until none is left; safe on every process). */
const RETENTION_MS = 60_000;
let defaultMetrics = false;

/** Opens the store (migrating it), wires services, worker and HTTP server. Does not listen. */
export async function createOtpd(config: Config, log: Logger): Promise<Otpd> {
  // A bad delivery configuration stops the start before anything opens.
  const deliveryConfig = config.deliveryConfigFile
    ? loadDeliveryConfig(config.deliveryConfigFile, PROVIDER_SCHEMAS)
    : EMPTY_DELIVERY;
  const store = await openStore({
    url: config.databaseUrl,
    poolSize: config.dbPoolSize,
    connectTimeoutMs: config.dbTimeoutMs,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    onConnectionError: (error) => log.warn({ error: error.message }, 'an idle database connection broke'),
  });
  if (!defaultMetrics) {
    collectDefaultMetrics();
    defaultMetrics = true;
  }
  let worker: DeliveryWorker | undefined;
  let webhooks: ReturnType<typeof startWebhookDispatcher> | undefined;
  const ctx: Context = {
    store,
    clock: systemClock,
    keyring: deriveKeyring(config.secret),
    log,
    wakeDelivery: () => worker?.wake(),
    wakeWebhooks: () => webhooks?.wake(),
    allowPrivateWebhooks: config.webhookAllowPrivate,
  };
  const delivery = buildDelivery(ctx, deliveryConfig);
  worker = new DeliveryWorker(ctx, (m) => delivery.router.providersFor(m), {
    reconcileMs: deliveryConfig.reconcile_after * 1000,
    leaseMs: deliveryConfig.lease * 1000,
  });
  const server = await buildServer(ctx, {
    adminToken: config.adminToken,
    delivery,
    dashboard: config.dashboard,
    trustProxy: config.trustProxy,
  });

  let sweeper: NodeJS.Timeout | undefined;
  let retention: NodeJS.Timeout | undefined;
  let wallet: ReturnType<typeof startWalletSweeper> | undefined;
  if (config.workers) {
    await delivery.start();
    worker.start();
    webhooks = startWebhookDispatcher(
      ctx,
      config.webhookRetrySchedule ? { schedule: config.webhookRetrySchedule } : {},
    );
    wallet = startWalletSweeper(ctx);
    sweeper = setInterval(() => {
      Promise.all([
        sweepExpiredOtps(ctx),
        deleteExpiredIdempotencyKeys(store.db, ctx.clock.now()),
        deleteClosedWindows(store.db, ctx.clock.now()),
        deleteExpiredSessions(store.db, ctx.clock.now()),
        countDueMessages(store.db).then((n) => deliveryMetrics.outboxDepth.set(n)),
        oldestDueAge(store.db, ctx.clock.now()).then((s) => deliveryMetrics.oldestDue.set(s)),
      ]).catch((error) => log.error({ err: error }, 'sweep failed'));
    }, SWEEP_MS);
    sweeper.unref();
    if (config.retentionDays > 0) {
      const olderThanMs = config.retentionDays * 86_400_000;
      let purging = false;
      retention = setInterval(() => {
        // One run at a time: a run goes on until the backlog is gone, which can outlast the interval.
        if (purging) return;
        purging = true;
        purgeOldRows(ctx, { olderThanMs })
          .catch((error) => log.error({ err: error }, 'retention purge failed'))
          .finally(() => {
            purging = false;
          });
      }, RETENTION_MS);
      retention.unref();
    }
  }

  return {
    ctx,
    server,
    worker,
    delivery,
    async close() {
      clearInterval(sweeper);
      clearInterval(retention);
      // Webhook attempts still out after half the shutdown budget are handed back.
      const webhookGrace = Math.max(1_000, config.shutdownTimeoutMs / 2);
      await Promise.all([server.close(), worker.stop(), webhooks?.close(webhookGrace), wallet?.close()]);
      await delivery.close();
      await store.close();
    },
  };
}
