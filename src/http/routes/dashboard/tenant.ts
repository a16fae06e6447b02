import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { DashboardContext } from '../../../dashboard/context.js';
import {
  accountApp,
  accountSummary,
  changeAccountApp,
  createAccountApp,
  createAccountKey,
  explainOtp,
  listAccountApps,
  listAccountKeys,
  listAccountOtps,
  liveModeOf,
  requestLiveMode,
  revokeAccountKey,
} from '../../../dashboard/tenant.js';
import { Nullable, Ok, ok, PageOf, PageQuery } from '../../envelope.js';
import {
  AppRecord,
  Environment,
  Id,
  OtpDetail,
  OtpRecord,
  OtpStatus,
  PolicyFields,
  Timestamp,
} from '../../schemas.js';
import { timeParam } from '../../validation.js';
import { accountOf } from './session.js';

const KeyRecord = Type.Object({
  id: Type.String(),
  app_id: Type.String(),
  environment: Environment,
  display: Type.String(),
  created_at: Timestamp,
  last_used_at: Nullable(Timestamp),
  revoked_at: Nullable(Timestamp),
});

export const LiveRequestRecord = Type.Object({
  id: Type.String(),
  account_id: Type.String(),
  use_case: Type.String(),
  expected_volume: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
  review_note: Nullable(Type.String()),
  created_at: Timestamp,
  reviewed_at: Nullable(Timestamp),
});

const TimelineEntry = Type.Object({
  type: Type.String(),
  detail: Type.Object({}, { additionalProperties: true }),
  created_at: Timestamp,
});

const OtpExplained = Type.Composite([
  OtpDetail,
  Type.Object({
    attempts_log: Type.Array(
      Type.Object({ id: Type.String(), outcome: Type.String(), created_at: Timestamp }),
    ),
    timeline: Type.Array(TimelineEntry),
  }),
]);

const AppParams = Type.Object({ app_id: Id('app') });
const Name = Type.String({ minLength: 1, maxLength: 100 });

/** The tenant's own account: apps, keys, the OTP explorer and live mode (session auth, access 'tenant'). */
export const dashboardTenantRoutes =
  (ctx: DashboardContext): FastifyPluginAsyncTypebox =>
  async (app) => {
    const config = { access: 'tenant' as const };
    const userOf = (request: { dashboardSession: { user: { id: string } } | undefined }) =>
      request.dashboardSession!.user.id;

    app.get(
      '/account',
      {
        config,
        schema: {
          hide: true,
          response: {
            200: Ok(
              Type.Object({
                account: Type.Object({
                  id: Type.String(),
                  name: Type.String(),
                  email: Nullable(Type.String()),
                  balance: Type.Integer(),
                  currency: Type.String(),
                  created_at: Timestamp,
                }),
                apps: Type.Integer(),
                live_mode: Nullable(LiveRequestRecord),
              }),
            ),
          },
        },
      },
      async (request) => ok(request.id, await accountSummary(ctx, accountOf(request))),
    );

    app.get(
      '/apps',
      {
        config,
        schema: { hide: true, response: { 200: Ok(Type.Object({ items: Type.Array(AppRecord) })) } },
      },
      async (request) => ok(request.id, { items: await listAccountApps(ctx, accountOf(request)) }),
    );

    app.post(
      '/apps',
      {
        config,
        schema: {
          hide: true,
          body: Type.Object(
            { name: Name, environment: Environment, ...PolicyFields },
            { additionalProperties: false },
          ),
          response: { 201: Ok(AppRecord) },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(ok(request.id, await createAccountApp(ctx, accountOf(request), request.body as never))),
    );

    app.get(
      '/apps/:app_id',
      { config, schema: { hide: true, params: AppParams, response: { 200: Ok(AppRecord) } } },
      async (request) => ok(request.id, await accountApp(ctx, accountOf(request), request.params.app_id)),
    );

    app.patch(
      '/apps/:app_id',
      {
        config,
        schema: {
          hide: true,
          params: AppParams,
          body: Type.Object(
            { name: Type.Optional(Name), environment: Type.Optional(Environment), ...PolicyFields },
            { additionalProperties: false },
          ),
          response: { 200: Ok(AppRecord) },
        },
      },
      async (request) =>
        ok(
          request.id,
          await changeAccountApp(ctx, accountOf(request), request.params.app_id, request.body as never),
        ),
    );

    app.get(
      '/apps/:app_id/keys',
      {
        config,
        schema: {
          hide: true,
          params: AppParams,
          response: { 200: Ok(Type.Object({ items: Type.Array(KeyRecord) })) },
        },
      },
      async (request) =>
        ok(request.id, { items: await listAccountKeys(ctx, accountOf(request), request.params.app_id) }),
    );

    app.post(
      '/apps/:app_id/keys',
      {
        config,
        schema: {
          hide: true,
          params: AppParams,
          response: { 201: Ok(Type.Composite([KeyRecord, Type.Object({ secret: Type.String() })])) },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(ok(request.id, await createAccountKey(ctx, accountOf(request), request.params.app_id))),
    );

    app.delete(
      '/keys/:key_id',
      {
        config,
        schema: { hide: true, params: Type.Object({ key_id: Id('key') }), response: { 200: Ok(KeyRecord) } },
      },
      async (request) =>
        ok(request.id, await revokeAccountKey(ctx, accountOf(request), request.params.key_id)),
    );

    app.get(
      '/apps/:app_id/otps',
      {
        config,
        schema: {
          hide: true,
          params: AppParams,
          querystring: Type.Object(
            {
              status: Type.Optional(OtpStatus),
              phone: Type.Optional(Type.String({ minLength: 3, maxLength: 32 })),
              reference: Type.Optional(Type.String({ maxLength: 128 })),
              from: Type.Optional(Timestamp),
              to: Type.Optional(Timestamp),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: { 200: Ok(PageOf(OtpRecord)) },
        },
      },
      async (request) => {
        const q = request.query;
        return ok(
          request.id,
          await listAccountOtps(ctx, accountOf(request), userOf(request), request.params.app_id, {
            status: q.status as never,
            phone: q.phone,
            reference: q.reference,
            from: timeParam(q.from, 'from'),
            to: timeParam(q.to, 'to'),
            cursor: q.cursor,
            limit: q.limit ?? 20,
          }),
        );
      },
    );

    app.get(
      '/apps/:app_id/otps/:otp_id',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ app_id: Id('app'), otp_id: Id('otp') }),
          response: { 200: Ok(OtpExplained) },
        },
      },
      async (request) =>
        ok(
          request.id,
          await explainOtp(
            ctx,
            accountOf(request),
            userOf(request),
            request.params.app_id,
            request.params.otp_id,
          ),
        ),
    );

    app.get(
      '/live-mode',
      { config, schema: { hide: true, response: { 200: Ok(Nullable(LiveRequestRecord)) } } },
      async (request) => ok(request.id, await liveModeOf(ctx, accountOf(request))),
    );

    app.post(
      '/live-mode',
      {
        config,
        schema: {
          hide: true,
          body: Type.Object(
            {
              use_case: Type.String({ minLength: 10, maxLength: 1000 }),
              expected_volume: Type.String({ minLength: 1, maxLength: 200 }),
            },
            { additionalProperties: false },
          ),
          response: { 200: Ok(LiveRequestRecord) },
        },
      },
      async (request) =>
        ok(request.id, await requestLiveMode(ctx, accountOf(request), userOf(request), request.body)),
    );
  };
