import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { decrypt } from '../core/crypto.js';
import type { Channel, Environment } from '../core/policy.js';
import {
  claimDueMessages,
  type MessageRow,
  markMessageFailed,
  markMessageSent,
  scheduleMessageRetry,
} from '../store/messages.js';
import { deliveryMetrics } from './metrics.js';
import { type OutboundMessage, type Provider, ProviderError } from './provider.js';

export interface WorkerOptions {
  /** Messages claimed per round. */
  batch: number;
  /** How long a claim holds before another worker may take the message. */
  leaseMs: number;
  /** How often to look for due messages when nobody rings. */
  pollMs: number;
  /** Tries before a message is failed for good. */
  maxTries: number;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = { batch: 50, leaseMs: 30_000, pollMs: 500, maxTries: 5 };

/** Backoff after the n-th failed try, in seconds. */
const RETRY_DELAYS = [5, 30, 120, 600];

/**
 * Drains the outbox: claims due messages, hands each to its provider and
 * records the outcome. A message claimed by a worker that dies is claimed
 * again when its lease runs out, so delivery is at-least-once.
 */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rung = false;
  private stopped = true;

  constructor(
    private readonly ctx: Context,
    private readonly route: (message: OutboundMessage) => Provider,
    private readonly options: WorkerOptions = DEFAULT_WORKER_OPTIONS,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Asks for a round now (after a commit that queued messages). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rung = true;
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.loop().finally(() => {
        this.running = undefined;
      });
    }, ms);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    let full = false;
    try {
      full = (await this.drainOnce()) === this.options.batch;
    } catch (error) {
      this.ctx.log.error({ err: error }, 'delivery round failed');
    }
    if (this.stopped) return;
    const again = full || this.rung;
    this.rung = false;
    this.schedule(again ? 0 : this.options.pollMs);
  }

  /** One round: answers how many messages were claimed. */
  async drainOnce(): Promise<number> {
    const { ctx, options } = this;
    const claimed = await claimDueMessages(ctx.store, ctx.clock.now(), options.batch, options.leaseMs);
    await Promise.all(claimed.map((row) => this.deliver(row)));
    return claimed.length;
  }

  private async deliver(row: MessageRow): Promise<void> {
    const { ctx } = this;
    if (!row.text_ciphertext) return;
    const message: OutboundMessage = {
      id: row.id,
      app_id: row.app_id,
      otp_id: row.otp_id,
      environment: row.environment as Environment,
      channel: row.channel as Channel,
      phone: row.phone,
      sender_id: row.sender_id,
      text: decrypt(ctx.keyring, row.text_ciphertext, row.id),
    };
    const provider = this.route(message);
    try {
      const result = await provider.send(message);
      const now = ctx.clock.now();
      await ctx.store.tx(async (trx) => {
        const sent = await markMessageSent(trx, row.id, { provider: provider.name, ...result }, now);
        if (sent) {
          await recordActivity(trx, now, {
            account_id: row.account_id,
            app_id: row.app_id,
            type: 'message.sent',
            ...(row.otp_id ? { otp_id: row.otp_id } : {}),
            detail: { message_id: row.id, provider: provider.name, channel: row.channel },
          });
        }
      });
      deliveryMetrics.sent.inc({ provider: provider.name, channel: row.channel });
    } catch (error) {
      await this.failed(row, provider, error);
    }
  }

  private async failed(row: MessageRow, provider: Provider, error: unknown): Promise<void> {
    const { ctx, options } = this;
    const now = ctx.clock.now();
    const reason = error instanceof Error ? error.message : String(error);
    const retryable = !(error instanceof ProviderError) || error.retryable;
    deliveryMetrics.failed.inc({
      provider: provider.name,
      channel: row.channel,
      retryable: String(retryable),
    });
    if (retryable && row.tries < options.maxTries) {
      const delay = RETRY_DELAYS[Math.min(row.tries - 1, RETRY_DELAYS.length - 1)]!;
      await scheduleMessageRetry(ctx.store.db, row.id, reason, now + delay * 1000, now);
      ctx.log.warn(
        { message_id: row.id, provider: provider.name, tries: row.tries },
        'delivery will be retried',
      );
      return;
    }
    await ctx.store.tx(async (trx) => {
      const failed = await markMessageFailed(trx, row.id, reason, now);
      if (failed) {
        await recordActivity(trx, now, {
          account_id: row.account_id,
          app_id: row.app_id,
          type: 'message.failed',
          ...(row.otp_id ? { otp_id: row.otp_id } : {}),
          detail: { message_id: row.id, provider: provider.name, error: reason },
        });
      }
    });
    ctx.log.error({ message_id: row.id, provider: provider.name }, 'delivery failed');
  }
}
