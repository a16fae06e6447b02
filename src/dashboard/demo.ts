import { invalid } from '../core/errors.js';
import { getOtp } from '../otp/read.js';
import { resendOtp } from '../otp/resend.js';
import { sendOtp } from '../otp/send.js';
import { verifyOtp } from '../otp/verify.js';
import type { DashboardContext } from './context.js';
import { accountApp, actingTenant } from './tenant.js';

/**
 * The playable demo: a tenant's user plays the end user of one of the
 * account's sandbox apps. It is the real engine (limits, attempts, expiry,
 * cooldown, the inbox), acting as the user instead of an API key; live apps
 * are refused, so the demo never sends a real message or costs money.
 */
async function sandboxTenant(ctx: DashboardContext, accountId: string, userId: string, appId: string) {
  const app = await accountApp(ctx, accountId, appId);
  if (app.environment !== 'sandbox') {
    throw invalid('app_id', 'The demo runs on sandbox apps only: nothing leaves the machine there.');
  }
  return actingTenant(app, userId);
}

export interface DemoActor {
  accountId: string;
  userId: string;
  appId: string;
}

export async function demoSend(ctx: DashboardContext, actor: DemoActor, phone: string) {
  const tenant = await sandboxTenant(ctx, actor.accountId, actor.userId, actor.appId);
  return sendOtp(ctx, tenant, { phone, reference: 'dashboard-demo' });
}

export async function demoResend(ctx: DashboardContext, actor: DemoActor, otpId: string) {
  const tenant = await sandboxTenant(ctx, actor.accountId, actor.userId, actor.appId);
  return resendOtp(ctx, tenant, { otp_id: otpId });
}

export async function demoVerify(ctx: DashboardContext, actor: DemoActor, otpId: string, code: string) {
  const tenant = await sandboxTenant(ctx, actor.accountId, actor.userId, actor.appId);
  return verifyOtp(ctx, tenant, { otp_id: otpId, code });
}

export async function demoStatus(ctx: DashboardContext, actor: DemoActor, otpId: string) {
  const tenant = await sandboxTenant(ctx, actor.accountId, actor.userId, actor.appId);
  return getOtp(ctx, tenant, otpId);
}
