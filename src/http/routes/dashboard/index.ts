import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { DashboardContext } from '../../../dashboard/context.js';
import type { Delivery } from '../../../delivery/registry.js';
import { dashboardAccountRoutes } from './account.js';
import { dashboardAuthRoutes } from './auth.js';
import { dashboardConsoleRoutes } from './console.js';
import { dashboardDemoRoutes } from './demo.js';
import { checkAccess, checkCsrf, loadSession } from './session.js';
import { dashboardTenantRoutes } from './tenant.js';

/**
 * /dashboard/api: the JSON API behind the dashboard, on session cookies.
 * Every request loads its session; every state-changing one shows its CSRF
 * token; each route names who may call it (`config.access`, default a full
 * session), checked before its input is even read.
 */
export const dashboardApi =
  (ctx: DashboardContext, adminToken: string | undefined, delivery?: Delivery): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addHook('onRequest', async (request) => {
      await loadSession(ctx, request);
      checkCsrf(ctx, request);
      checkAccess(request, request.routeOptions.config.access ?? 'user');
    });
    // Answers about one person's session are for that browser only.
    app.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
    });
    await app.register(dashboardAuthRoutes(ctx, adminToken));
    await app.register(dashboardTenantRoutes(ctx));
    await app.register(dashboardDemoRoutes(ctx));
    await app.register(dashboardAccountRoutes(ctx));
    await app.register(dashboardConsoleRoutes(ctx, delivery));
  };
