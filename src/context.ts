import type { Logger } from 'pino';
import type { Clock } from './core/clock.js';
import type { Keyring } from './core/crypto.js';
import type { Store } from './store/db.js';

/** What every service function gets: storage, time, keys, a logger and the outbox bell. */
export interface Context {
  store: Store;
  clock: Clock;
  keyring: Keyring;
  log: Logger;
  /** Rings the delivery worker after a commit that queued messages. */
  wakeDelivery(): void;
  /** Rings the webhook dispatcher after a commit that queued events (optional: tests drive it by hand). */
  wakeWebhooks?(): void;
  /** OTPD_WEBHOOK_ALLOW_PRIVATE: webhook URLs may resolve to private and loopback addresses. */
  allowPrivateWebhooks?: boolean;
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
