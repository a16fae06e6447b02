import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { DashboardContext } from '../../../dashboard/context.js';
import { demoResend, demoSend, demoStatus, demoVerify } from '../../../dashboard/demo.js';
import { Nullable, Ok, ok } from '../../envelope.js';
import { Id, OtpDetail, OtpRecord, Timestamp } from '../../schemas.js';
import { accountOf } from './session.js';

const Verified = Type.Object({
  verified: Type.Literal(true),
  otp_id: Type.String(),
  phone: Type.String(),
  status: Type.Literal('verified'),
  reference: Nullable(Type.String()),
  verified_at: Timestamp,
});

const OtpOfApp = Type.Object({ app_id: Id('app'), otp_id: Id('otp') }, { additionalProperties: false });

/** /dashboard/api/demo: the playable sandbox flow (see src/dashboard/demo.ts). */
export const dashboardDemoRoutes =
  (ctx: DashboardContext): FastifyPluginAsyncTypebox =>
  async (app) => {
    const config = { access: 'tenant' as const };
    const actor = (request: FastifyRequest, appId: string) => ({
      accountId: accountOf(request),
      userId: request.dashboardSession!.user.id,
      appId,
    });

    app.post(
      '/demo/send',
      {
        config,
        schema: {
          hide: true,
          body: Type.Object(
            { app_id: Id('app'), phone: Type.String({ minLength: 3, maxLength: 32 }) },
            { additionalProperties: false },
          ),
          response: { 201: Ok(OtpRecord) },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(ok(request.id, await demoSend(ctx, actor(request, request.body.app_id), request.body.phone))),
    );

    app.post(
      '/demo/resend',
      { config, schema: { hide: true, body: OtpOfApp, response: { 200: Ok(OtpRecord) } } },
      async (request) =>
        ok(request.id, await demoResend(ctx, actor(request, request.body.app_id), request.body.otp_id)),
    );

    app.post(
      '/demo/verify',
      {
        config,
        schema: {
          hide: true,
          body: Type.Object(
            { app_id: Id('app'), otp_id: Id('otp'), code: Type.String({ minLength: 1, maxLength: 32 }) },
            { additionalProperties: false },
          ),
          response: { 200: Ok(Verified) },
        },
      },
      async (request) =>
        ok(
          request.id,
          await demoVerify(ctx, actor(request, request.body.app_id), request.body.otp_id, request.body.code),
        ),
    );

    app.get(
      '/demo/otps/:otp_id',
      {
        config,
        schema: {
          hide: true,
          params: Type.Object({ otp_id: Id('otp') }),
          querystring: Type.Object({ app_id: Id('app') }, { additionalProperties: false }),
          response: { 200: Ok(OtpDetail) },
        },
      },
      async (request) =>
        ok(request.id, await demoStatus(ctx, actor(request, request.query.app_id), request.params.otp_id)),
    );
  };
