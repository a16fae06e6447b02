import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { consoleOverview } from '../../../dashboard/console.js';
import type { DashboardContext } from '../../../dashboard/context.js';
import { listAllLiveRequests, reviewLiveMode } from '../../../dashboard/tenant.js';
import type { Delivery } from '../../../delivery/registry.js';
import { approveTemplate, listAllTemplates, rejectTemplate } from '../../../templates/review.js';
import { listAllAccounts } from '../../../tenancy/accounts.js';
import { topUp } from '../../../wallet/ledger.js';
import { Ok, ok, PageQuery } from '../../envelope.js';
import { Id } from '../../schemas.js';
import { LiveRequestRecord } from './tenant.js';

const Status = Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]);

/**
 * /dashboard/api/console: the operator's console on an operator session,
 * over the same services as /admin/v1 (which the operator token reaches).
 */
export const dashboardConsoleRoutes =
  (ctx: DashboardContext, delivery: Delivery | undefined): FastifyPluginAsyncTypebox =>
  async (app) => {
    const config = { access: 'operator' as const };

    app.get('/console/overview', { config, schema: { hide: true } }, async (request) =>
      ok(request.id, await consoleOverview(ctx, delivery)),
    );

    app.get(
      '/console/accounts',
      {
        config,
        schema: { hide: true, querystring: Type.Object(PageQuery, { additionalProperties: false }) },
      },
      async (request) =>
        ok(
          request.id,
          await listAllAccounts(ctx, { limit: request.query.limit ?? 20, cursor: request.query.cursor }),
        ),
    );

    app.post(
      '/console/accounts/:id/topups',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ id: Id('acc') }),
          body: Type.Object(
            {
              amount: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'micro-units' }),
              reference: Type.String({ minLength: 1, maxLength: 128 }),
              note: Type.Optional(Type.String({ maxLength: 500 })),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request) => ok(request.id, await topUp(ctx, request.params.id, request.body)),
    );

    app.get(
      '/console/live-requests',
      {
        config,
        schema: {
          hide: true,
          querystring: Type.Object(
            { status: Type.Optional(Status), ...PageQuery },
            { additionalProperties: false },
          ),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listAllLiveRequests(ctx, {
            status: request.query.status,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.post(
      '/console/live-requests/:id/approve',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ id: Id('lmr') }),
          response: { 200: Ok(LiveRequestRecord) },
        },
      },
      async (request) => ok(request.id, await reviewLiveMode(ctx, request.params.id, { status: 'approved' })),
    );

    app.post(
      '/console/live-requests/:id/reject',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ id: Id('lmr') }),
          body: Type.Object(
            { note: Type.String({ minLength: 1, maxLength: 500 }) },
            { additionalProperties: false },
          ),
          response: { 200: Ok(LiveRequestRecord) },
        },
      },
      async (request) =>
        ok(
          request.id,
          await reviewLiveMode(ctx, request.params.id, { status: 'rejected', note: request.body.note }),
        ),
    );

    app.get(
      '/console/templates',
      {
        config,
        schema: {
          hide: true,
          querystring: Type.Object(
            {
              status: Type.Optional(
                Type.Union(['pending', 'approved', 'rejected', 'deleted'].map((s) => Type.Literal(s))),
              ),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listAllTemplates(ctx, {
            status: request.query.status as never,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.post(
      '/console/templates/:id/approve',
      { config, schema: { hide: true, params: Type.Object({ id: Id('tpl') }) } },
      async (request) => ok(request.id, await approveTemplate(ctx, request.params.id)),
    );

    app.post(
      '/console/templates/:id/reject',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ id: Id('tpl') }),
          body: Type.Object(
            { reason: Type.String({ minLength: 1, maxLength: 500 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (request) => ok(request.id, await rejectTemplate(ctx, request.params.id, request.body.reason)),
    );
  };
