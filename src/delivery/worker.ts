import { recordActivities, recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { GroupCommit } from '../core/group-commit.js';
import type { Channel, Environment } from '../core/policy.js';
import { Rounds } from '../core/rounds.js';
import {
  advanceMessageProvider,
  type ClaimedMessage,
  claimDueMessages,
  dueFallbacks,
  markMessageFailed,
  markMessagesSent,
  markMessageUnknown,
  markSubmitting,
  releaseMessageClaims,
  scheduleMessageRetry,
  takeFallback,
} from '../store/messages.js';
import { pendingAmong } from '../store/otps.js';
import { findApp } from '../store/tenancy.js';
import { type App, toApp } from '../tenancy/apps.js';
import { settleCharge } from '../wallet/charges.js';
import { afterFailure, queueFallback } from './fallback.js';
import { deliveryMetrics } from './metrics.js';
import { readPayload } from './outbox.js';
import { type OutboundMessage, type Provider, ProviderError, type ProviderResult } from './provider.js';
import type { Addressee } from './router.js';

export interface WorkerOptions {
  /** Messages claimed per round. */
  batch: number;
  /** How long a claim holds before another worker may take the message; longer than any provider timeout. */
  leaseMs: number;
  /** How often to look for due messages when nobody rings. */
  pollMs: number;
  /** Claims of one message before it is failed for good (a process that died on it every time). */
  maxTries: number;
  /** Tries on one provider for `retry` failures before the next provider takes over. */
  providerTries: number;
  /** How long an unknown outcome waits for a receipt (`reconcile_after`). */
  reconcileMs: number;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  batch: 200,
  leaseMs: 30_000,
  pollMs: 500,
  maxTries: 12,
  providerTries: 4,
  reconcileMs: 300_000,
};

/** Backoff after the n-th `retry` failure on one provider, in seconds: OTPs live minutes, not hours. */
const RETRY_DELAYS = [2, 10, 30];

/** A provider's answer, waiting to be written with the others of its moment. */
interface Handover {
  row: ClaimedMessage;
  provider: Provider;
  result: ProviderResult;
  fallbackAt: number | null;
  at: number;
}

/** The providers for a message, in failover order (see Router). */
export type RouteFn = (m: Addressee) => Provider[];

/**
 * Drains the outbox: claims due messages, hands each to the provider its
 * route names and records the outcome. Before a request leaves, the message
 * records which provider gets it; a claim found with that mark (its worker
 * died mid-send) is treated as an unknown outcome, never sent there again.
 * Retryable failures back off on the same provider, permanent ones fall over
 * to the next provider, and a message no provider could take fails, which
 * hands the OTP to the app's next fallback channel.
 */
export class DeliveryWorker {
  private readonly options: WorkerOptions;
  private readonly rounds: Rounds;
  /** Set by stop(): lanes take no further message, and what they did not take is released. */
  private stopping = false;
  /** Settles on stop(): a lane waiting for its provider's throttle stops waiting. */
  private halted: Promise<void> = new Promise(() => {});
  private halt = () => {};

  constructor(
    private readonly ctx: Context,
    private readonly route: RouteFn,
    options: Partial<WorkerOptions> = {},
  ) {
    this.options = { ...DEFAULT_WORKER_OPTIONS, ...options };
    this.rounds = new Rounds(
      async () => (await this.drainOnce()) === this.options.batch,
      this.options.pollMs,
      (error) => ctx.log.error({ err: error }, 'delivery round failed'),
    );
  }

  start(): void {
    this.stopping = false;
    this.halted = new Promise((resolve) => {
      this.halt = resolve;
    });
    this.rounds.start();
  }

  /** Asks for a round now (after a commit that queued messages). */
  wake(): void {
    this.rounds.wake();
  }

  /**
   * Stops after the round in hand: requests already out finish and are
   * recorded; claimed messages not yet handed to a provider are released
   * (due again at once, for this process after a restart or another one).
   */
  stop(): Promise<void> {
    this.stopping = true;
    this.halt();
    return this.rounds.stop();
  }

  /** One round: channel fallbacks that came due, then due messages. Answers how many messages were claimed. */
  async drainOnce(): Promise<number> {
    const { ctx, options } = this;
    await this.fallBackLate();
    const now = ctx.clock.now();
    const claimed = await claimDueMessages(ctx.store, now, options.batch, options.leaseMs);
    if (claimed.length === 0) return 0;
    const apps = new Map<string, App | undefined>();
    const pending = await this.pendingOtps(claimed, now);

    // Sort the batch: what is settled here, and what goes to which provider.
    const outgoing = new Map<Provider, ClaimedMessage[]>();
    for (const row of claimed) {
      if (!row.text_ciphertext || row.tries > options.maxTries) {
        await this.fail(row, 'none', 'Too many tries.');
      } else if (row.otp_id && !pending.has(row.otp_id) && row.submitted_at === null) {
        // The code of an OTP that ended (verified, canceled, expired) is not sent.
        await this.fail(row, 'none', 'The OTP ended before its message was sent.', false);
      } else if (row.otp_id && !pending.has(row.otp_id) && row.was === 'unknown') {
        // Handed to the provider, its answer lost, no receipt in time, and the
        // OTP has ended: not sent again, and not failed either (the user may
        // well have had it; the chaos harness saw exactly that). It counts as
        // sent: a late receipt still settles it, else the wallet's no_receipt.
        const provider = this.route(addressee(row)).find((p) => p.name === row.provider) ?? {
          name: row.provider ?? 'none',
        };
        await this.recordHandovers([
          {
            row,
            provider: provider as Provider,
            result: { provider_message_id: null, status: 'sent' },
            fallbackAt: null,
            at: now,
          },
        ]);
      } else if (row.was === 'sending' && row.submitted_at !== null) {
        const providers = this.route(addressee(row));
        const previous = providers.find((p) => p.name === row.provider);
        if (previous?.idempotent) {
          // Sending it again delivers it once.
          outgoing.set(previous, [...(outgoing.get(previous) ?? []), row]);
          continue;
        }
        // Its worker died after the request may have left: the provider may have it.
        await markMessageUnknown(
          ctx.store.db,
          row.id,
          row.tries,
          `The process stopped while ${row.provider} had the message; waiting for its receipt.`,
          now + options.reconcileMs,
          await this.fallbackAt(row, previous, apps, now),
          now,
        );
      } else {
        const providers = this.route(addressee(row));
        if (row.was === 'unknown') {
          await this.reconcile(row, providers);
          continue;
        }
        const provider = providers[row.provider_index];
        if (!provider) {
          const reason =
            row.provider_index === 0
              ? `No route for ${row.channel} to ${row.country ?? row.phone.slice(0, 4)}.`
              : (row.error ?? 'Every provider of the route failed.');
          await this.fail(row, 'none', reason);
          continue;
        }
        outgoing.set(provider, [...(outgoing.get(provider) ?? []), row]);
      }
    }

    const leaseEnd = now + options.leaseMs;
    const sends: Promise<void>[] = [];
    // Submit marks and handovers are written in groups (see GroupCommit): a
    // busy round costs a few transactions, not two per message.
    const record = new GroupCommit((items: Handover[]) => this.recordHandovers(items));
    const recordings: (Promise<void> | undefined)[] = [];
    let recordFailure: unknown;
    /** Messages a lane took (a submit mark may be on its way for them): never released. */
    const taken = new Set<string>();
    for (const [provider, rows] of outgoing) {
      const mark = new GroupCommit(async (ids: string[]) => {
        const held = await markSubmitting(ctx.store.db, ids, provider.name, leaseEnd, ctx.clock.now());
        return ids.map((id) => held.has(id));
      });
      // At most `concurrency` requests out at once; each message is marked
      // just before its request leaves (after the throttle), so a crash
      // leaves in doubt only what was really out.
      const lanes = Math.min(rows.length, provider.concurrency ?? rows.length);
      let next = 0;
      for (let lane = 0; lane < lanes; lane++) {
        sends.push(
          (async () => {
            while (next < rows.length && !this.stopping) {
              const row = rows[next++]!;
              await Promise.race([provider.ready?.(), this.halted]);
              // Not taken: released below.
              if (this.stopping) break;
              taken.add(row.id);
              if (!(await mark.add(row.id))) continue;
              // The lane goes on with its next message while the answer is written.
              const sent = await this.deliver(row, provider, apps, record);
              recordings.push(
                sent?.recording.catch((error: unknown) => {
                  recordFailure ??= error;
                }),
              );
            }
          })(),
        );
      }
    }
    await Promise.all(sends);
    await Promise.all(recordings);
    if (this.stopping) {
      const untaken = [...outgoing.values()].flat().filter((row) => !taken.has(row.id));
      // Only messages no lane took: for those no submit can be in flight.
      const released = await releaseMessageClaims(ctx.store.db, untaken, leaseEnd, ctx.clock.now());
      if (released > 0) ctx.log.info({ released }, 'stopping: claimed messages released');
    }
    if (recordFailure) throw recordFailure;
    return claimed.length;
  }

  /** Of the claimed messages' OTPs, those still pending. */
  private async pendingOtps(rows: ClaimedMessage[], now: number): Promise<Set<string>> {
    const ids = [...new Set(rows.map((r) => r.otp_id).filter((id): id is string => id !== null))];
    return pendingAmong(this.ctx.store.db, ids, now);
  }

  private async appOf(row: ClaimedMessage, apps: Map<string, App | undefined>): Promise<App | undefined> {
    if (!apps.has(row.app_id)) {
      const found = await findApp(this.ctx.store.db, row.app_id);
      apps.set(row.app_id, found ? toApp(found) : undefined);
    }
    return apps.get(row.app_id);
  }

  /**
   * When a sent OTP message that is still undelivered hands over to the next
   * channel. Only a provider that reports deliveries can say "not delivered".
   */
  private async fallbackAt(
    row: ClaimedMessage,
    provider: Provider | undefined,
    apps: Map<string, App | undefined>,
    now: number,
  ) {
    if (row.kind !== 'otp' || !provider?.receipts) return null;
    const app = await this.appOf(row, apps);
    if (!app || app.fallback_after === 0 || row.step >= app.fallback_channels.length) return null;
    return now + app.fallback_after * 1000;
  }

  private async deliver(
    row: ClaimedMessage,
    provider: Provider,
    apps: Map<string, App | undefined>,
    record: GroupCommit<Handover, boolean>,
  ): Promise<{ recording: Promise<void> } | undefined> {
    const { ctx } = this;
    const payload = readPayload(ctx.keyring, row.text_ciphertext!, row.id);
    const message: OutboundMessage = {
      id: row.id,
      app_id: row.app_id,
      otp_id: row.otp_id,
      environment: row.environment as Environment,
      channel: row.channel as Channel,
      phone: row.phone,
      sender_id: row.sender_id,
      text: payload.text,
      code: payload.code,
      locale: row.locale,
    };
    const labels = { provider: provider.name, channel: row.channel };
    const started = performance.now();
    let result: ProviderResult;
    try {
      result = await provider.send(message);
    } catch (error) {
      deliveryMetrics.submitLatency.observe(labels, (performance.now() - started) / 1000);
      await this.failed(row, provider, error, apps, payload.code);
      return undefined;
    }
    deliveryMetrics.submitLatency.observe(labels, (performance.now() - started) / 1000);
    // The provider took it: from here a failure to record is not a failed
    // delivery. The claim's lease ends, the next claim sees the submit mark
    // and waits for a receipt instead of sending it again.
    const now = ctx.clock.now();
    // (Wrapped: an async function returning the promise itself would wait for it.)
    const recording = (async () => {
      const fallbackAt = await this.fallbackAt(row, provider, apps, now);
      const recorded = await record.add({ row, provider, result, fallbackAt, at: now });
      if (!recorded) return;
      deliveryMetrics.sent.inc(labels);
      if (result.status === 'delivered') deliveryMetrics.delivered.inc(labels);
    })();
    return { recording };
  }

  /** Records providers' answers in one transaction; answers, per handover, whether it still held its claim. */
  private async recordHandovers(items: Handover[]): Promise<boolean[]> {
    const { ctx } = this;
    return ctx.store.tx(async (trx) => {
      // One statement marks them all, one logs them all: a round trip each on PostgreSQL.
      const updated = await markMessagesSent(
        trx,
        items.map(({ row, provider, result, fallbackAt, at }) => ({
          id: row.id,
          claim: row.tries,
          provider: provider.name,
          provider_message_id: result.provider_message_id,
          status: result.status,
          segments: result.segments ?? null,
          fallback_at: fallbackAt,
          at,
        })),
      );
      const byId = new Map(updated.map((r) => [r.id, r]));
      const entries: Parameters<typeof recordActivities>[1] = [];
      for (const { row, provider, result, at } of items) {
        if (!byId.has(row.id)) continue;
        const base = {
          at,
          account_id: row.account_id,
          app_id: row.app_id,
          ...(row.otp_id ? { otp_id: row.otp_id } : {}),
          detail: { message_id: row.id, kind: row.kind, provider: provider.name, channel: row.channel },
        };
        entries.push({ ...base, type: 'message.sent' });
        // The provider delivered it on the spot (the inbox): no receipt will follow.
        if (result.status === 'delivered') entries.push({ ...base, type: 'message.delivered' });
      }
      await recordActivities(trx, entries);
      for (const { row, result, at } of items) {
        const sent = byId.get(row.id);
        if (sent) await settleCharge(ctx, trx, sent, result.status, at);
      }
      return items.map(({ row }) => byId.has(row.id));
    });
  }

  private async failed(
    row: ClaimedMessage,
    provider: Provider,
    error: unknown,
    apps: Map<string, App | undefined>,
    code: string | null,
  ): Promise<void> {
    const { ctx, options } = this;
    const now = ctx.clock.now();
    // A provider may echo the text back in its error: the code never reaches the row, the API or the log.
    let reason = `${provider.name}: ${error instanceof Error ? error.message : String(error)}`;
    if (code) reason = reason.replaceAll(code, '***');
    // A provider that throws something else has a bug, not an answer: try it again later.
    const kind = error instanceof ProviderError ? error.kind : 'retry';
    const labels = { provider: provider.name, channel: row.channel };
    if (kind === 'unknown') {
      deliveryMetrics.failed.inc({ ...labels, outcome: 'unknown' });
      const fallbackAt = await this.fallbackAt(row, provider, apps, now);
      await markMessageUnknown(
        ctx.store.db,
        row.id,
        row.tries,
        reason,
        now + options.reconcileMs,
        fallbackAt,
        now,
      );
      ctx.log.warn(
        { message_id: row.id, provider: provider.name },
        'delivery outcome unknown; waiting for a receipt',
      );
      return;
    }
    if (kind === 'retry' && row.provider_tries + 1 < options.providerTries) {
      deliveryMetrics.failed.inc({ ...labels, outcome: 'retry' });
      const delay = RETRY_DELAYS[Math.min(row.provider_tries, RETRY_DELAYS.length - 1)]!;
      await scheduleMessageRetry(ctx.store.db, row.id, row.tries, reason, now + delay * 1000, now);
      ctx.log.warn(
        { message_id: row.id, provider: provider.name, tries: row.tries },
        'delivery will be retried',
      );
      return;
    }
    await this.fallOver(row, this.route(addressee(row)), reason);
  }

  /**
   * No receipt came for an unknown outcome in `reconcile_after`. The next
   * provider takes the message; with none left, a provider that reports on
   * every message it accepted evidently never got it and gets it again (a
   * bounded number of times); any other provider might have it, so the
   * message fails rather than risk a duplicate.
   */
  private async reconcile(row: ClaimedMessage, providers: Provider[]): Promise<void> {
    const { ctx, options } = this;
    const reason = `No answer or receipt from ${row.provider}.`;
    const same = providers[row.provider_index];
    const last = row.provider_index + 1 >= providers.length;
    if (
      last &&
      same?.receipts &&
      same.name === row.provider &&
      row.provider_tries + 1 < options.providerTries
    ) {
      const now = ctx.clock.now();
      await scheduleMessageRetry(ctx.store.db, row.id, row.tries, reason, now, now);
      ctx.log.warn(
        { message_id: row.id, provider: row.provider },
        'no receipt: the provider never got it; sending again',
      );
      this.rounds.wake();
      return;
    }
    await this.fallOver(row, providers, reason);
  }

  /** The next provider of the route takes the message, or it fails when none is left. */
  private async fallOver(row: ClaimedMessage, providers: Provider[], reason: string): Promise<void> {
    const { ctx } = this;
    const labels = { provider: row.provider ?? 'none', channel: row.channel };
    if (row.provider_index + 1 < providers.length) {
      deliveryMetrics.failed.inc({ ...labels, outcome: 'next_provider' });
      await advanceMessageProvider(ctx.store.db, row.id, row.tries, reason, ctx.clock.now());
      ctx.log.warn(
        { message_id: row.id, provider: row.provider, next: providers[row.provider_index + 1]!.name },
        'falling over to the next provider',
      );
      this.rounds.wake();
      return;
    }
    deliveryMetrics.failed.inc({ ...labels, outcome: 'final' });
    await this.fail(row, row.provider ?? 'none', reason);
  }

  /** Fails a claimed message for good, with a log entry; the channel fallback may take over. */
  private async fail(row: ClaimedMessage, provider: string, reason: string, fallBack = true): Promise<void> {
    const now = this.ctx.clock.now();
    await this.ctx.store.tx(async (trx) => {
      const failed = await markMessageFailed(trx, row.id, row.tries, reason, now);
      if (failed) {
        await recordActivity(trx, now, {
          account_id: row.account_id,
          app_id: row.app_id,
          type: 'message.failed',
          ...(row.otp_id ? { otp_id: row.otp_id } : {}),
          detail: { message_id: row.id, kind: row.kind, provider, error: reason },
        });
        await settleCharge(this.ctx, trx, failed, 'failed', now);
        if (fallBack) await afterFailure(this.ctx, trx, failed, now);
      }
    });
    if (fallBack) this.rounds.wake();
    this.ctx.log.warn({ message_id: row.id, provider, reason }, 'message failed');
  }

  /** Sent messages still undelivered at their `fallback_at`: the next channel takes over. */
  private async fallBackLate(): Promise<void> {
    const { ctx } = this;
    const now = ctx.clock.now();
    for (const row of await dueFallbacks(ctx.store.db, now, this.options.batch)) {
      // Taking the fallback and queueing the next message commit together.
      const queued = await ctx.store.tx(
        async (trx) => (await takeFallback(trx, row, now)) && queueFallback(ctx, trx, row, now),
      );
      if (queued) {
        this.rounds.wake();
        ctx.log.info({ message_id: row.id }, 'not delivered in time; trying the next channel');
      }
    }
  }
}

function addressee(row: ClaimedMessage): Addressee {
  return {
    environment: row.environment as Environment,
    channel: row.channel as Channel,
    phone: row.phone,
    country: row.country,
  };
}
