/**
 * The delivery worker's drain rate into the inbox provider: messages of
 * pending OTPs are queued straight into the outbox (queueMessage, as a send
 * does), then the worker (src/delivery/worker.ts, with the routes otpd uses
 * when no provider is configured) is timed until the outbox is empty.
 */
import pino from 'pino';
import type { Context } from '../../src/context.js';
import { systemClock } from '../../src/core/clock.js';
import { deriveKeyring } from '../../src/core/crypto.js';
import { checkDeliveryConfig } from '../../src/delivery/config.js';
import { queueMessage } from '../../src/delivery/outbox.js';
import { buildDelivery, PROVIDER_SCHEMAS } from '../../src/delivery/registry.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { openStore } from '../../src/store/db.js';
import { createAccount } from '../../src/tenancy/accounts.js';
import { createApp } from '../../src/tenancy/apps.js';
import { phoneOf, SANDBOX_CODE, seedPending } from './seed.js';
import { SECRET } from './servers.js';

export interface DrainResult {
  backend: string;
  messages: number;
  queueSeconds: number;
  drainSeconds: number;
  perSecond: number;
  rounds: number;
  /** Messages the inbox holds afterwards (should equal `messages`). */
  delivered: number;
}

/** The drain has a database of its own: the send family's numbers are free there. */
const DRAIN_PHONES = 0;

export async function measureDrain(backend: string, url: string, messages: number): Promise<DrainResult> {
  const store = await openStore({ url, poolSize: 10 });
  const ctx: Context = {
    store,
    clock: systemClock,
    keyring: deriveKeyring(SECRET),
    log: pino({ level: 'warn' }),
    wakeDelivery: () => {},
  };
  try {
    const account = await createAccount(ctx, { name: 'Bench drain' });
    const app = await createApp(ctx, { account_id: account.id, name: 'Bench', environment: 'sandbox' });
    const phones = Array.from({ length: messages }, (_, i) => phoneOf(DRAIN_PHONES, i));
    const queuedAt = performance.now();
    const otpIds = await seedPending(store, { appId: app.id, accountId: account.id }, phones);
    for (let start = 0; start < messages; start += 1000) {
      const now = ctx.clock.now();
      await store.tx(async (trx) => {
        for (let i = start; i < Math.min(start + 1000, messages); i++) {
          await queueMessage(trx, ctx.keyring, now, {
            account_id: account.id,
            app_id: app.id,
            otp_id: otpIds[i]!,
            environment: 'sandbox',
            channel: 'sms',
            phone: phones[i]!,
            country: 'NP',
            sender_id: null,
            text: `Your Bench verification code is ${SANDBOX_CODE}. It expires in 5 minutes.`,
            code: SANDBOX_CODE,
          });
        }
      });
    }
    const queueSeconds = (performance.now() - queuedAt) / 1000;

    const config = checkDeliveryConfig({ providers: {} }, PROVIDER_SCHEMAS);
    const delivery = buildDelivery(ctx, config);
    await delivery.start();
    const worker = new DeliveryWorker(ctx, (m) => delivery.router.providersFor(m), {
      reconcileMs: config.reconcile_after * 1000,
      leaseMs: config.lease * 1000,
    });
    const startedAt = performance.now();
    let rounds = 0;
    while ((await worker.drainOnce()) > 0) rounds++;
    const drainSeconds = (performance.now() - startedAt) / 1000;
    await delivery.close();
    const { n } = await store.db
      .selectFrom('inbox_messages')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('app_id', '=', app.id)
      .executeTakeFirstOrThrow();
    return {
      backend,
      messages,
      queueSeconds,
      drainSeconds,
      perSecond: Number(n) / drainSeconds,
      rounds,
      delivered: Number(n),
    };
  } finally {
    await store.close();
  }
}
