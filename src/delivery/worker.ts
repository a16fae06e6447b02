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
import { isOtpPending } from '../store/otps.js';
import { deliveryMetrics } from './metrics.js';
import { type OutboundMessage, type Provider, ProviderError, type ProviderResult } from './provider.js';

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
    const { ctx, options } = this;
    if (!row.text_ciphertext) return;
    // A message whose process died on every try is failed, not tried forever.
    if (row.tries > options.maxTries) return this.fail(row, 'none', 'Too many tries.');
    // The code of an OTP that ended (verified, canceled, expired) is not sent.
    if (row.otp_id && !(await isOtpPending(ctx.store.db, row.otp_id, ctx.clock.now()))) {
      return this.fail(row, 'none', 'The OTP ended before its message was sent.');
    }
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
    let result: ProviderResult;
    try {
      result = await provider.send(message);
    } catch (error) {
      return this.failed(row, provider, error);
    }
    // The provider took it: from here a failure to record is not a failed
    // delivery. The claim's lease ends and the message is offered again, and
    // providers are idempotent on the message id.
    const now = ctx.clock.now();
    await ctx.store.tx(async (trx) => {
      const sent = await markMessageSent(trx, row.id, row.tries, { provider: provider.name, ...result }, now);
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
      await scheduleMessageRetry(ctx.store.db, row.id, row.tries, reason, now + delay * 1000, now);
      ctx.log.warn(
        { message_id: row.id, provider: provider.name, tries: row.tries },
        'delivery will be retried',
      );
      return;
    }
    await this.fail(row, provider.name, reason);
  }

  /** Fails a claimed message for good, with a log entry. */
  private async fail(row: MessageRow, provider: string, reason: string): Promise<void> {
    const now = this.ctx.clock.now();
    await this.ctx.store.tx(async (trx) => {
      const failed = await markMessageFailed(trx, row.id, row.tries, reason, now);
      if (failed) {
        await recordActivity(trx, now, {
          account_id: row.account_id,
          app_id: row.app_id,
          type: 'message.failed',
          ...(row.otp_id ? { otp_id: row.otp_id } : {}),
          detail: { message_id: row.id, provider, error: reason },
        });
      }
    });
    this.ctx.log.warn({ message_id: row.id, provider, reason }, 'message failed');
  }
}
