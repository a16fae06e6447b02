import type { TemplateStatus } from '../store/templates.js';
import { deleteTemplate, getTemplate, listTemplates, submitTemplate } from '../templates/templates.js';
import type { DeliveryStatus } from '../webhooks/deliveries.js';
import { listDeliveries, replayDelivery } from '../webhooks/deliveries.js';
import {
  changeEndpoint,
  createEndpoint,
  deleteEndpoint,
  listEndpoints,
  rotateSecret,
} from '../webhooks/endpoints.js';
import type { DashboardContext } from './context.js';
import { accountApp, actingTenant, listAccountApps } from './tenant.js';

/**
 * Templates (the account's, submitted through one of its apps) and webhook
 * endpoints (per app), for the dashboard: the services of /v1 and /admin,
 * each call scoped to the session's account first.
 */

interface Actor {
  accountId: string;
  userId: string;
}

export async function listAccountTemplates(
  ctx: DashboardContext,
  actor: Actor,
  filter: { status?: TemplateStatus; cursor?: string; limit: number },
) {
  const [app] = await listAccountApps(ctx, actor.accountId);
  if (!app) return { items: [], next_cursor: null };
  return listTemplates(ctx, actingTenant(app, actor.userId), filter);
}

export async function submitAccountTemplate(
  ctx: DashboardContext,
  actor: Actor,
  input: { app_id: string; name: string; body: string; use_case: string },
) {
  const { app_id, ...template } = input;
  const app = await accountApp(ctx, actor.accountId, app_id);
  return submitTemplate(ctx, actingTenant(app, actor.userId), template);
}

export async function deleteAccountTemplate(ctx: DashboardContext, actor: Actor, templateId: string) {
  const apps = await listAccountApps(ctx, actor.accountId);
  const probe = apps[0];
  // An account without apps has no templates either; the lookup answers TEMPLATE_NOT_FOUND.
  const tenant = probe
    ? actingTenant(probe, actor.userId)
    : { account_id: actor.accountId, app: undefined as never, key_id: actor.userId };
  const template = await getTemplate(ctx, tenant, templateId);
  const owner = apps.find((a) => a.id === template.app_id) ?? probe!;
  return deleteTemplate(ctx, actingTenant(owner, actor.userId), templateId);
}

export async function listAppEndpoints(ctx: DashboardContext, accountId: string, appId: string) {
  await accountApp(ctx, accountId, appId);
  return listEndpoints(ctx, appId, { limit: 100 });
}

export async function createAppEndpoint(
  ctx: DashboardContext,
  accountId: string,
  appId: string,
  input: { url: string; events?: string[] | null },
) {
  await accountApp(ctx, accountId, appId);
  return createEndpoint(ctx, appId, input);
}

export async function changeAppEndpoint(
  ctx: DashboardContext,
  accountId: string,
  appId: string,
  endpointId: string,
  changes: { url?: string; events?: string[] | null; enabled?: boolean },
) {
  await accountApp(ctx, accountId, appId);
  return changeEndpoint(ctx, appId, endpointId, changes);
}

export async function deleteAppEndpoint(
  ctx: DashboardContext,
  accountId: string,
  appId: string,
  endpointId: string,
) {
  await accountApp(ctx, accountId, appId);
  return deleteEndpoint(ctx, appId, endpointId);
}

export async function rotateAppEndpoint(
  ctx: DashboardContext,
  accountId: string,
  appId: string,
  endpointId: string,
) {
  await accountApp(ctx, accountId, appId);
  return rotateSecret(ctx, appId, endpointId, {});
}

export async function listEndpointDeliveries(
  ctx: DashboardContext,
  accountId: string,
  appId: string,
  endpointId: string,
  filter: { status?: DeliveryStatus; cursor?: string; limit: number },
) {
  await accountApp(ctx, accountId, appId);
  return listDeliveries(ctx, appId, endpointId, filter);
}

export async function replayEndpointDelivery(
  ctx: DashboardContext,
  accountId: string,
  appId: string,
  endpointId: string,
  deliveryId: string,
) {
  await accountApp(ctx, accountId, appId);
  return replayDelivery(ctx, appId, endpointId, deliveryId);
}
