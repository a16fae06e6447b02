import { encodeBase62 } from '../core/ids.js';
import type { Delivery } from '../delivery/registry.js';
import { countMessagesSince, countPending, countRows } from '../store/dashboard.js';
import { countDueMessages, oldestDueAge } from '../store/messages.js';
import type { DashboardContext } from './context.js';

const HOUR_MS = 3600_000;

/**
 * The operator console's front page: what waits for a decision, how the
 * outbox is doing, the providers as this process sees them, and the last
 * hour's delivery outcomes (failed ÷ finished messages).
 */
export async function consoleOverview(ctx: DashboardContext, delivery: Delivery | undefined) {
  const db = ctx.store.db;
  const now = ctx.clock.now();
  const [accounts, liveRequests, templates, outboxDepth, oldestDue, lastHour] = await Promise.all([
    countRows(db, 'accounts'),
    countPending(db, 'live_requests'),
    countPending(db, 'templates'),
    countDueMessages(db),
    oldestDueAge(db, now),
    countMessagesSince(db, `msg_${encodeBase62(BigInt(now - HOUR_MS), 8)}`),
  ]);
  const finished = (lastHour.sent ?? 0) + (lastHour.delivered ?? 0) + (lastHour.failed ?? 0);
  return {
    accounts,
    pending_live_requests: liveRequests,
    pending_templates: templates,
    outbox_depth: outboxDepth,
    oldest_due_seconds: oldestDue,
    last_hour: {
      messages: Object.values(lastHour).reduce((a, b) => a + b, 0),
      by_status: lastHour,
      error_rate: finished === 0 ? null : Math.round(((lastHour.failed ?? 0) / finished) * 10_000) / 10_000,
    },
    routes: delivery?.config.routes.length ?? 0,
    providers: delivery
      ? [...delivery.providers.values()].map((p) => {
          const health = p.health?.() ?? { ok: true };
          return {
            name: p.name,
            type: p.type,
            channels: [...p.channels],
            ok: health.ok,
            detail: health.detail ?? null,
          };
        })
      : [],
  };
}
