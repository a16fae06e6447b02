import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { type Clock, systemClock } from '../core/clock.js';
import { Rounds } from '../core/rounds.js';
import type { Db } from '../store/db.js';
import {
  cancelEndpointDeliveries,
  claimDueDeliveries,
  disableEndpointRow,
  findEndpointsById,
  findEventsById,
  insertAttempt,
  releaseWebhookClaims,
  settleDelivery,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
  type WebhookEventRow,
} from '../store/webhooks.js';
import { activeSecrets } from './endpoints.js';
import { onDeliveriesQueued, webhookId } from './events.js';
import { webhookMetrics } from './metrics.js';
import { signatureHeaders } from './signing.js';
import { type PostOutcome, postWebhook } from './transport.js';

/** Seconds before the 2nd, 3rd, … attempt: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. */
export const RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400];
/** A receiver's Retry-After is honoured up to this. */
const MAX_RETRY_AFTER_MS = 86_400_000;

export interface DispatcherOptions {
  /** Deliveries claimed per round; all of a round's requests run at once. */
  batch: number;
  /** How long a claim holds before another process may take it: longer than a request can take. */
  leaseMs: number;
  /** How often to look for due deliveries when nobody rings (other processes' events, retries). */
  pollMs: number;
  /** A request that has no answer (response headers) by then fails. */
  timeoutMs: number;
  /** Seconds between attempts; one attempt more than it has entries, then the delivery fails. */
  schedule: number[];
  /** Each wait is the schedule's ± this fraction, so endpoints that failed together do not retry together. */
  jitter: number;
  /** The clock of `webhook-timestamp`: receivers check it against their own wall clock. */
  wallClock: Clock;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  batch: 50,
  leaseMs: 20_000,
  pollMs: 1_000,
  timeoutMs: 10_000,
  schedule: RETRY_SCHEDULE,
  jitter: 0.15,
  wallClock: systemClock,
};

/**
 * Drains the webhook outbox: claims due deliveries, signs and POSTs each to
 * its endpoint and records the attempt. A 2xx settles it; a 410 Gone
 * disables the endpoint; anything else is tried again on the schedule (or
 * later, when the receiver's Retry-After says so) until the schedule runs
 * out. All state is in the database, so a restart, or another process,
 * picks up where this one stopped: a claim whose process died is taken
 * again when its lease ends (at-least-once, with the same event id).
 */
export class WebhookDispatcher {
  readonly options: DispatcherOptions;
  private readonly rounds: Rounds;
  private unsubscribe: (() => void) | undefined;
  /** Claims whose attempt is out, for stop() to release when it cannot wait for them. */
  private readonly inFlight = new Map<string, { id: string; tries: number; leaseEnd: number }>();

  constructor(
    private readonly ctx: Context,
    options: Partial<DispatcherOptions> = {},
  ) {
    this.options = {
      ...DEFAULT_DISPATCHER_OPTIONS,
      schedule: RETRY_SCHEDULE,
      ...options,
    };
    this.rounds = new Rounds(
      async () => (await this.drainOnce()) === this.options.batch,
      this.options.pollMs,
      (error) => ctx.log.error({ err: error }, 'webhook round failed'),
    );
  }

  start(): void {
    this.unsubscribe = onDeliveriesQueued(() => this.wake());
    this.rounds.start();
  }

  /** Asks for a round now (after a commit that queued events). */
  wake(): void {
    this.rounds.wake();
  }

  /**
   * Stops after the round in hand. With `graceMs`, waits that long for the
   * attempts that are out, then releases their claims (due again at once,
   * for another process) instead of leaving them to their lease.
   */
  async stop(graceMs?: number): Promise<void> {
    this.unsubscribe?.();
    const round = this.rounds.stop();
    if (graceMs === undefined) return round;
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      round.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!late || this.inFlight.size === 0) return;
    const released = await releaseWebhookClaims(
      this.ctx.store.db,
      [...this.inFlight.values()],
      this.ctx.clock.now(),
    );
    this.ctx.log.info({ released }, 'stopping: webhook deliveries still out released');
  }

  /** One round: claims what is due and attempts each. Answers how many deliveries were claimed. */
  async drainOnce(): Promise<number> {
    const { ctx, options } = this;
    const now = ctx.clock.now();
    const claimed = await claimDueDeliveries(ctx.store, now, options.batch, options.leaseMs);
    if (claimed.length === 0) return 0;
    for (const row of claimed) {
      this.inFlight.set(row.id, { id: row.id, tries: row.tries, leaseEnd: now + options.leaseMs });
    }
    try {
      await this.attemptAll(claimed);
    } finally {
      // (A settled attempt left in the map meanwhile is safe: releasing is fenced by the claim.)
      for (const row of claimed) this.inFlight.delete(row.id);
    }
    return claimed.length;
  }

  private async attemptAll(claimed: WebhookDeliveryRow[]): Promise<void> {
    const { ctx } = this;
    const endpoints = new Map(
      (await findEndpointsById(ctx.store.db, [...new Set(claimed.map((d) => d.endpoint_id))])).map((e) => [
        e.id,
        e,
      ]),
    );
    const events = new Map(
      (await findEventsById(ctx.store.db, [...new Set(claimed.map((d) => d.event_id))])).map((e) => [
        e.id,
        e,
      ]),
    );
    await Promise.all(
      claimed.map((row) =>
        this.attempt(row, endpoints.get(row.endpoint_id), events.get(row.event_id)).catch((error) =>
          ctx.log.error({ err: error, delivery_id: row.id }, 'webhook attempt failed to record'),
        ),
      ),
    );
  }

  private async attempt(
    row: WebhookDeliveryRow,
    endpoint: WebhookEndpointRow | undefined,
    event: WebhookEventRow | undefined,
  ): Promise<void> {
    const { ctx, options } = this;
    if (endpoint?.enabled !== 1 || !event) {
      const reason = endpoint ? 'The endpoint was disabled.' : 'The endpoint was deleted.';
      await settleDelivery(
        ctx.store.db,
        row.id,
        row.tries,
        {
          status: 'canceled',
          next_try_at: Number.MAX_SAFE_INTEGER,
          last_status_code: null,
          last_error: reason,
        },
        ctx.clock.now(),
      );
      return;
    }
    const timestamp = Math.floor(options.wallClock.now() / 1000);
    const headers = signatureHeaders(
      event.id,
      timestamp,
      event.payload,
      activeSecrets(ctx, endpoint, ctx.clock.now()),
    );
    const outcome = await postWebhook(endpoint.url, event.payload, headers, {
      timeoutMs: options.timeoutMs,
      allowPrivate: ctx.allowPrivateWebhooks === true,
    });
    webhookMetrics.latency.observe(outcome.latencyMs / 1000);
    await this.record(row, endpoint, outcome);
  }

  /** Records the attempt and what follows from it, in one transaction. */
  private async record(row: WebhookDeliveryRow, endpoint: WebhookEndpointRow, outcome: PostOutcome) {
    const { ctx, options } = this;
    const now = ctx.clock.now();
    const status = outcome.status;
    const result = { last_status_code: status, last_error: outcome.error };
    const kind =
      status !== null && status >= 200 && status < 300
        ? 'succeeded'
        : status === 410
          ? 'gone'
          : row.attempts > options.schedule.length
            ? 'failed'
            : 'retry';
    // The claim is the fence: a worker whose lease ran out (the delivery was
    // claimed again) records nothing, neither the attempt nor a disable.
    const held = await ctx.store.tx(async (trx) => {
      const settled =
        kind === 'succeeded'
          ? await settleDelivery(
              trx,
              row.id,
              row.tries,
              { status: 'succeeded', next_try_at: Number.MAX_SAFE_INTEGER, succeeded_at: now, ...result },
              now,
            )
          : kind === 'retry'
            ? await settleDelivery(
                trx,
                row.id,
                row.tries,
                {
                  status: 'pending',
                  next_try_at: now + this.delayAfter(row.attempts, outcome.retryAfterMs),
                  ...result,
                },
                now,
              )
            : await settleDelivery(
                trx,
                row.id,
                row.tries,
                { status: 'failed', next_try_at: Number.MAX_SAFE_INTEGER, ...result },
                now,
              );
      if (!settled) return false;
      await insertAttempt(trx, {
        id: webhookId('wha', now),
        delivery_id: row.id,
        endpoint_id: row.endpoint_id,
        attempt: row.attempts,
        status_code: status,
        latency_ms: outcome.latencyMs,
        error: outcome.error,
        created_at: now,
      });
      if (kind === 'gone') await this.disable(trx, endpoint, now);
      return true;
    });
    if (!held) {
      ctx.log.warn({ delivery_id: row.id }, 'webhook claim lost before its outcome was recorded');
      return;
    }
    webhookMetrics.attempts.inc({ outcome: kind });
    const fields = { delivery_id: row.id, endpoint_id: endpoint.id, attempt: row.attempts, status };
    if (kind === 'retry') ctx.log.info({ ...fields, error: outcome.error }, 'webhook will be retried');
    if (kind === 'failed') ctx.log.warn({ ...fields, error: outcome.error }, 'webhook failed for good');
    if (kind === 'gone') ctx.log.warn(fields, 'webhook endpoint answered 410 Gone: disabled');
  }

  /**
   * The receiver said the endpoint is gone for good: it is disabled, what
   * was still queued for it stops, and the change is in the activity log.
   */
  private async disable(trx: Db, endpoint: WebhookEndpointRow, now: number) {
    const reason = 'The endpoint answered 410 Gone.';
    const disabled = await disableEndpointRow(trx, endpoint.id, reason, now);
    if (!disabled) return;
    await cancelEndpointDeliveries(trx, endpoint.id, 'The endpoint was disabled (410 Gone).', now);
    await recordActivity(trx, now, {
      account_id: endpoint.account_id,
      app_id: endpoint.app_id,
      type: 'webhook.disabled',
      detail: { endpoint_id: endpoint.id, reason },
    });
  }

  /** The wait after the n-th attempt failed: the schedule with jitter, or the receiver's Retry-After if longer. */
  private delayAfter(attempt: number, retryAfterMs: number | null): number {
    const { schedule, jitter } = this.options;
    const base = schedule[Math.min(attempt, schedule.length) - 1]! * 1000;
    const jittered = Math.round(base * (1 + jitter * (2 * Math.random() - 1)));
    return Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
  }
}

/** Delivers queued webhook events; started by the runtime when workers run. */
export function startWebhookDispatcher(
  ctx: Context,
  options: Partial<DispatcherOptions> = {},
): { wake(): void; close(graceMs?: number): Promise<void> } {
  const dispatcher = new WebhookDispatcher(ctx, options);
  dispatcher.start();
  return { wake: () => dispatcher.wake(), close: (graceMs) => dispatcher.stop(graceMs) };
}
