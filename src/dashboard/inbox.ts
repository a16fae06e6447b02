import { iso } from '../context.js';
import { decrypt } from '../core/crypto.js';
import { encodeBase62 } from '../core/ids.js';
import type { InboxMessage } from '../delivery/inbox.js';
import { appAccounts, appIdsOfAccount, listInboxOf } from '../store/dashboard.js';
import type { InboxRow } from '../store/messages.js';
import type { DashboardContext } from './context.js';

/** Whose inbox messages a reader may see: one app's (API key), one account's (tenant session) or all (operator). */
export type InboxScope =
  | { kind: 'all' }
  | { kind: 'app'; appId: string }
  | { kind: 'account'; accountId: string };

function toMessage(ctx: DashboardContext, row: InboxRow): InboxMessage {
  return {
    id: row.id,
    message_id: row.message_id,
    app_id: row.app_id,
    environment: row.environment,
    phone: row.phone,
    channel: row.channel,
    sender_id: row.sender_id,
    text: decrypt(ctx.keyring, row.text_ciphertext, row.message_id),
    created_at: iso(row.created_at)!,
  };
}

async function appIdsOf(ctx: DashboardContext, scope: InboxScope): Promise<string[] | undefined> {
  if (scope.kind === 'all') return undefined;
  if (scope.kind === 'app') return [scope.appId];
  return appIdsOfAccount(ctx.store.db, scope.accountId);
}

/** What the inbox holds for a scope, newest first; with `after`, what came since, oldest first. */
export async function readScopedInbox(
  ctx: DashboardContext,
  scope: InboxScope,
  filter: { phone?: string; after?: string; limit: number },
): Promise<InboxMessage[]> {
  const rows = await listInboxOf(ctx.store.db, { ...filter, appIds: await appIdsOf(ctx, scope) });
  return rows.map((row) => toMessage(ctx, row));
}

type Listener = (message: InboxMessage) => void;

interface Subscriber {
  scope: InboxScope;
  phone: string | undefined;
  listener: Listener;
}

/** How often the feed looks for new messages while someone listens. */
const POLL_MS = 400;
/**
 * How far back each look reaches. Ids start with their millisecond, but a
 * row can commit a little after a later-numbered one (another process, a
 * slower transaction): re-reading the last seconds and skipping the ids
 * already seen catches those.
 */
const OVERLAP_MS = 3000;

/**
 * The inbox as a stream, for /inbox's server-sent events. One poller per
 * process reads new rows from the database (so messages that another otpd
 * process delivered arrive too) and hands each to the listeners whose scope
 * and phone it matches. It runs only while someone listens.
 */
export class InboxFeed {
  private readonly subscribers = new Set<Subscriber>();
  private readonly seen = new Map<string, number>();
  private readonly accountOfApp = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private newestMs = 0;
  private polling: Promise<void> | undefined;

  constructor(private readonly ctx: DashboardContext) {}

  subscribe(scope: InboxScope, phone: string | undefined, listener: Listener): () => void {
    const subscriber = { scope, phone, listener };
    this.subscribers.add(subscriber);
    if (!this.timer) {
      this.newestMs = this.ctx.clock.now();
      this.timer = setInterval(() => {
        this.polling ??= this.poll()
          .catch((error: Error) =>
            this.ctx.log.warn({ err: { message: error.message } }, 'inbox feed poll failed'),
          )
          .finally(() => {
            this.polling = undefined;
          });
      }, POLL_MS);
      this.timer.unref();
    }
    return () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.seen.clear();
  }

  get listening(): number {
    return this.subscribers.size;
  }

  private async poll(): Promise<void> {
    const after = `inb_${encodeBase62(BigInt(Math.max(0, this.newestMs - OVERLAP_MS)), 8)}`;
    const rows = (await listInboxOf(this.ctx.store.db, { after, limit: 500 })).filter(
      (r) => !this.seen.has(r.id),
    );
    if (rows.length === 0) return;
    const unknown = [...new Set(rows.map((r) => r.app_id))].filter((id) => !this.accountOfApp.has(id));
    for (const [app, account] of await appAccounts(this.ctx.store.db, unknown))
      this.accountOfApp.set(app, account);
    for (const row of rows) {
      this.seen.set(row.id, row.created_at);
      this.newestMs = Math.max(this.newestMs, row.created_at);
      const message = toMessage(this.ctx, row);
      for (const s of this.subscribers) {
        if (s.phone !== undefined && s.phone !== row.phone) continue;
        if (s.scope.kind === 'app' && s.scope.appId !== row.app_id) continue;
        if (s.scope.kind === 'account' && s.scope.accountId !== this.accountOfApp.get(row.app_id)) continue;
        s.listener(message);
      }
    }
    for (const [id, at] of this.seen) if (at < this.newestMs - 2 * OVERLAP_MS) this.seen.delete(id);
  }
}
