import type { Context } from '../context.js';

/** Delivers queued webhook events; started by the runtime when workers run. */
export function startWebhookDispatcher(_ctx: Context): { wake(): void; close(): Promise<void> } {
  return { wake() {}, async close() {} };
}
