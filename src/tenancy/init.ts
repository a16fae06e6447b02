import type { Context } from '../context.js';
import { safeEqual, sha256 } from '../core/crypto.js';
import { randomBase62 } from '../core/ids.js';
import { claimMeta, getMeta, setMeta } from '../store/tenancy.js';
import { createAccount } from './accounts.js';
import { createApp } from './apps.js';
import { createKey } from './keys.js';

const ADMIN_TOKEN_META = 'admin_token_sha256';

/** Whether `token` is the operator token: OTPD_ADMIN_TOKEN when set, else the one `otpd init` made. */
export async function isAdminToken(
  ctx: Context,
  token: string,
  envToken: string | undefined,
): Promise<boolean> {
  // With OTPD_ADMIN_TOKEN set it is the only token, so changing it rotates the token.
  if (envToken !== undefined) return safeEqual(token, envToken);
  const stored = await getMeta(ctx.store.db, ADMIN_TOKEN_META);
  return stored !== undefined && safeEqual(sha256(token), stored);
}

export interface InitResult {
  admin_token: string;
  account_id: string;
  sandbox_app_id: string;
  sandbox_key: string;
  live_app_id: string;
  live_key: string;
}

/**
 * First-run setup: the operator token, a demo account, and a sandbox and a
 * live app with a key each. Answers null when the database was set up before
 * (the secrets were shown then, once). All of it is one transaction, so a
 * crash leaves nothing half set up; claiming the `initialized` marker inside
 * it is the race gate: of two processes starting together, one sets up.
 */
export async function initialize(ctx: Context, adoptToken?: string): Promise<InitResult | null> {
  return ctx.store.tx(async (trx) => {
    // The services below run on this transaction: their own tx() joins it.
    const inTx: Context = { ...ctx, store: { ...ctx.store, db: trx, tx: (fn) => fn(trx) } };
    if (!(await claimMeta(trx, 'initialized', new Date(ctx.clock.now()).toISOString()))) return null;
    const adminToken = adoptToken ?? `otpd_admin_${randomBase62(40)}`;
    await setMeta(trx, ADMIN_TOKEN_META, sha256(adminToken));
    const account = await createAccount(inTx, { name: 'Demo', email: undefined });
    const sandbox = await createApp(inTx, {
      account_id: account.id,
      name: 'Demo (sandbox)',
      environment: 'sandbox',
    });
    const live = await createApp(inTx, { account_id: account.id, name: 'Demo', environment: 'live' });
    return {
      admin_token: adminToken,
      account_id: account.id,
      sandbox_app_id: sandbox.id,
      sandbox_key: (await createKey(inTx, sandbox.id)).secret,
      live_app_id: live.id,
      live_key: (await createKey(inTx, live.id)).secret,
    };
  });
}
