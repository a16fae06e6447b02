import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { accountBalance, accountLedger, appUsage } from '../../../dashboard/billing.js';
import type { DashboardContext } from '../../../dashboard/context.js';
import {
  changeAppEndpoint,
  createAppEndpoint,
  deleteAccountTemplate,
  deleteAppEndpoint,
  listAccountTemplates,
  listAppEndpoints,
  listEndpointDeliveries,
  replayEndpointDelivery,
  rotateAppEndpoint,
  submitAccountTemplate,
} from '../../../dashboard/messaging.js';
import { REPORT_DIMENSIONS } from '../../../reports/usage.js';
import { LEDGER_TYPES } from '../../../wallet/ledger.js';
import { DELIVERY_STATUSES } from '../../../webhooks/deliveries.js';
import { ok, PageQuery } from '../../envelope.js';
import { Id, Timestamp } from '../../schemas.js';
import { timeParam } from '../../validation.js';
import { accountOf } from './session.js';

const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Events = Type.Union([Type.Array(Type.String({ maxLength: 40 }), { maxItems: 20 }), Type.Null()]);
const EndpointParams = Type.Object({ app_id: Id('app'), endpoint_id: Id('whk') });

/** The account's balance and ledger, usage reports, templates and webhook endpoints (access 'tenant'). */
export const dashboardAccountRoutes =
  (ctx: DashboardContext): FastifyPluginAsyncTypebox =>
  async (app) => {
    const config = { access: 'tenant' as const };
    const actor = (request: FastifyRequest) => ({
      accountId: accountOf(request),
      userId: request.dashboardSession!.user.id,
    });

    app.get('/balance', { config, schema: { hide: true } }, async (request) =>
      ok(request.id, await accountBalance(ctx, accountOf(request))),
    );

    app.get(
      '/ledger',
      {
        config,
        schema: {
          hide: true,
          querystring: Type.Object(
            { type: Type.Optional(literals(LEDGER_TYPES)), ...PageQuery },
            { additionalProperties: false },
          ),
        },
      },
      async (request) =>
        ok(
          request.id,
          await accountLedger(ctx, accountOf(request), {
            type: request.query.type as never,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.get(
      '/apps/:app_id/usage',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ app_id: Id('app') }),
          querystring: Type.Object(
            {
              from: Type.Optional(Timestamp),
              to: Type.Optional(Timestamp),
              group_by: Type.Optional(literals(REPORT_DIMENSIONS)),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request) =>
        ok(
          request.id,
          await appUsage(
            ctx,
            { ...actor(request), appId: request.params.app_id },
            {
              from: timeParam(request.query.from, 'from'),
              to: timeParam(request.query.to, 'to'),
              group_by: request.query.group_by as never,
            },
          ),
        ),
    );

    app.get(
      '/templates',
      {
        config,
        schema: {
          hide: true,
          querystring: Type.Object(
            { status: Type.Optional(literals(['pending', 'approved', 'rejected', 'deleted'])), ...PageQuery },
            { additionalProperties: false },
          ),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listAccountTemplates(ctx, actor(request), {
            status: request.query.status as never,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.post(
      '/templates',
      {
        config,
        schema: {
          hide: true,
          body: Type.Object(
            {
              app_id: Id('app'),
              name: Type.String({ minLength: 1, maxLength: 100 }),
              body: Type.String({ minLength: 1, maxLength: 1000 }),
              use_case: Type.String({ minLength: 1, maxLength: 500 }),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await submitAccountTemplate(ctx, actor(request), request.body))),
    );

    app.delete(
      '/templates/:id',
      { config, schema: { hide: true, params: Type.Object({ id: Id('tpl') }) } },
      async (request) => ok(request.id, await deleteAccountTemplate(ctx, actor(request), request.params.id)),
    );

    app.get(
      '/apps/:app_id/webhooks',
      { config, schema: { hide: true, params: Type.Object({ app_id: Id('app') }) } },
      async (request) =>
        ok(request.id, await listAppEndpoints(ctx, accountOf(request), request.params.app_id)),
    );

    app.post(
      '/apps/:app_id/webhooks',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ app_id: Id('app') }),
          body: Type.Object(
            { url: Type.String({ minLength: 8, maxLength: 2000 }), events: Type.Optional(Events) },
            { additionalProperties: false },
          ),
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(
            ok(
              request.id,
              await createAppEndpoint(ctx, accountOf(request), request.params.app_id, request.body),
            ),
          ),
    );

    app.patch(
      '/apps/:app_id/webhooks/:endpoint_id',
      {
        config,
        schema: {
          hide: true,
          params: EndpointParams,
          body: Type.Object(
            {
              url: Type.Optional(Type.String({ minLength: 8, maxLength: 2000 })),
              events: Type.Optional(Events),
              enabled: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request) =>
        ok(
          request.id,
          await changeAppEndpoint(
            ctx,
            accountOf(request),
            request.params.app_id,
            request.params.endpoint_id,
            request.body,
          ),
        ),
    );

    app.delete(
      '/apps/:app_id/webhooks/:endpoint_id',
      { config, schema: { hide: true, params: EndpointParams } },
      async (request) =>
        ok(
          request.id,
          await deleteAppEndpoint(ctx, accountOf(request), request.params.app_id, request.params.endpoint_id),
        ),
    );

    app.post(
      '/apps/:app_id/webhooks/:endpoint_id/rotate',
      { config, schema: { hide: true, params: EndpointParams } },
      async (request) =>
        ok(
          request.id,
          await rotateAppEndpoint(ctx, accountOf(request), request.params.app_id, request.params.endpoint_id),
        ),
    );

    app.get(
      '/apps/:app_id/webhooks/:endpoint_id/deliveries',
      {
        config,
        schema: {
          hide: true,
          params: EndpointParams,
          querystring: Type.Object(
            { status: Type.Optional(literals(DELIVERY_STATUSES)), ...PageQuery },
            { additionalProperties: false },
          ),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listEndpointDeliveries(
            ctx,
            accountOf(request),
            request.params.app_id,
            request.params.endpoint_id,
            {
              status: request.query.status as never,
              cursor: request.query.cursor,
              limit: request.query.limit ?? 20,
            },
          ),
        ),
    );

    app.post(
      '/apps/:app_id/webhooks/:endpoint_id/deliveries/:delivery_id/replay',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ app_id: Id('app'), endpoint_id: Id('whk'), delivery_id: Id('whd') }),
        },
      },
      async (request) =>
        ok(
          request.id,
          await replayEndpointDelivery(
            ctx,
            accountOf(request),
            request.params.app_id,
            request.params.endpoint_id,
            request.params.delivery_id,
          ),
        ),
    );
  };
