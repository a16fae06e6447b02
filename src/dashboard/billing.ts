import { usageReport } from '../reports/usage.js';
import type { ReportDimension } from '../store/reports.js';
import { getBalance, type LedgerType, listLedger } from '../wallet/ledger.js';
import type { DashboardContext } from './context.js';
import { accountApp, actingTenant } from './tenant.js';

/** The account's wallet and usage, as the dashboard shows them (the same services as /v1). */

export const accountBalance = (ctx: DashboardContext, accountId: string) => getBalance(ctx, accountId);

export const accountLedger = (
  ctx: DashboardContext,
  accountId: string,
  filter: { type?: LedgerType; cursor?: string; limit: number },
) => listLedger(ctx, accountId, filter);

export async function appUsage(
  ctx: DashboardContext,
  actor: { accountId: string; userId: string; appId: string },
  input: { from?: number; to?: number; group_by?: ReportDimension },
) {
  const app = await accountApp(ctx, actor.accountId, actor.appId);
  return usageReport(ctx, actingTenant(app, actor.userId), input);
}
