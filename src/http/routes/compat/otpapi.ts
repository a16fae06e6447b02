import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TProperties, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { listActivity } from '../../../activity/log.js';
import {
  detailAnswer,
  errorAnswer,
  ok,
  renamed,
  toSendInput,
  toVerifyInput,
} from '../../../compat/otpapi.js';
import { otpReport } from '../../../compat/reports.js';
import type { Context } from '../../../context.js';
import { OtpdError } from '../../../core/errors.js';
import { effectiveLimits } from '../../../core/policy.js';
import { readLimits } from '../../../limits/limits.js';
import { getOtp, listOtpAttempts, listOtpRecords } from '../../../otp/read.js';
import { resendOtp } from '../../../otp/resend.js';
import { resolvePhone, sendOtp } from '../../../otp/send.js';
import { verifyOtp } from '../../../otp/verify.js';
import { apiKeyAuth } from '../../auth.js';
import { PageQuery } from '../../envelope.js';
import { Channel, CodeType, OtpStatus, Timestamp } from '../../schemas.js';
import { timeParam } from '../../validation.js';
import { answerErrorsAs } from './errors.js';

const AppId = Type.String({ minLength: 1, maxLength: 64, description: 'The id (app_…) of the key’s app' });
const Recipient = Type.String({ minLength: 3, maxLength: 32 });
const VerificationId = Type.String({ minLength: 1, maxLength: 64 });

const SendBody = Type.Object(
  {
    appid: Type.Optional(AppId),
    recipient: Recipient,
    channel: Type.Optional(Channel),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    metadata: Type.Optional(Type.Object({}, { additionalProperties: true })),
    message: Type.Optional(Type.String({ minLength: 6, maxLength: 640 })),
    code_type: Type.Optional(CodeType),
    code_length: Type.Optional(Type.Integer({ minimum: 4, maximum: 12 })),
    expiry: Type.Optional(Type.Integer({ minimum: 60, maximum: 86400 })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    locale: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$', maxLength: 35 })),
    ip: Type.Optional(Type.String({ minLength: 2, maxLength: 45 })),
  },
  { additionalProperties: false },
);

const VerifyBody = Type.Object(
  {
    appid: Type.Optional(AppId),
    recipient: Type.Optional(Recipient),
    otp_code: Type.String({ minLength: 1, maxLength: 32 }),
    verification_id: Type.Optional(VerificationId),
  },
  { additionalProperties: false },
);

const ResendBody = Type.Object(
  {
    appid: Type.Optional(AppId),
    verification_id: VerificationId,
    channel: Type.Optional(Channel),
    ip: Type.Optional(Type.String({ minLength: 2, maxLength: 45 })),
  },
  { additionalProperties: false },
);

const Query = <T extends TProperties>(fields: T) =>
  Type.Object({ appid: Type.Optional(AppId), ...fields }, { additionalProperties: false });

const OneVerification = Query({ verification_id: VerificationId });

/**
 * The generic API's `X-API-Key` + `X-API-Secret`: the secret is the otpd
 * key and `X-API-Key` names it (its id, `key_…`, or the key itself). Without
 * X-API-Secret, or with an Authorization header, the key is read as on /v1
 * (so `X-API-Key: otpd_…` alone, Basic and Bearer work too).
 */
function keyAndSecretAuth(ctx: Context) {
  const asOnV1 = apiKeyAuth(ctx);
  // The very check of /v1 (keys in query strings refused included), on the secret.
  const bySecret = apiKeyAuth(ctx, (request) => (request.headers['x-api-secret'] as string).trim());
  return async (request: FastifyRequest) => {
    const secret = request.headers['x-api-secret'];
    if (typeof secret !== 'string' || request.headers.authorization !== undefined) return asOnV1(request);
    await bySecret(request);
    const named = request.headers['x-api-key'];
    if (named !== undefined && named !== request.tenant.key_id && named !== secret.trim()) {
      throw new OtpdError(
        'INVALID_API_KEY',
        'X-API-Key must be the id (key_…) of the key sent in X-API-Secret.',
      );
    }
  };
}

/** `appid`, where given, must be the key's own app: a key never acts for another. */
async function checkAppId(request: FastifyRequest): Promise<void> {
  const from = (request.body ?? request.query) as { appid?: string } | undefined;
  if (from?.appid !== undefined && from.appid !== request.tenant.app.id) {
    throw new OtpdError(
      'NOT_FOUND',
      `This API key belongs to app ${request.tenant.app.id}, not to ${from.appid}.`,
      {
        field: 'appid',
      },
    );
  }
}

/** `/compat/otpapi`: the generic OTP API's core and management endpoints. */
export const otpapiRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    answerErrorsAs(app, (error, request) => errorAnswer(error, request.id));
    app.addHook('onRequest', keyAndSecretAuth(ctx));
    app.addHook('preHandler', checkAppId);

    app.post('/otp/send', { schema: { hide: true, body: SendBody } }, async (request) =>
      ok(request.id, renamed(await sendOtp(ctx, request.tenant, toSendInput(request.body)))),
    );

    app.post('/otp/verify', { schema: { hide: true, body: VerifyBody } }, async (request) =>
      ok(request.id, renamed(await verifyOtp(ctx, request.tenant, toVerifyInput(request.body)))),
    );

    app.post('/otp/resend', { schema: { hide: true, body: ResendBody } }, async (request) => {
      const { verification_id, channel, ip } = request.body;
      return ok(
        request.id,
        renamed(await resendOtp(ctx, request.tenant, { otp_id: verification_id, channel, ip })),
      );
    });

    app.get('/otp/status', { schema: { hide: true, querystring: OneVerification } }, async (request) =>
      ok(request.id, detailAnswer(await getOtp(ctx, request.tenant, request.query.verification_id))),
    );

    app.get('/otp/attempts', { schema: { hide: true, querystring: OneVerification } }, async (request) =>
      ok(request.id, renamed(await listOtpAttempts(ctx, request.tenant, request.query.verification_id))),
    );

    app.get(
      '/otp/list',
      {
        schema: {
          hide: true,
          querystring: Query({
            status: Type.Optional(OtpStatus),
            recipient: Type.Optional(Recipient),
            reference: Type.Optional(Type.String({ maxLength: 128 })),
            from: Type.Optional(Timestamp),
            to: Type.Optional(Timestamp),
            ...PageQuery,
          }),
        },
      },
      async (request) => {
        const q = request.query;
        const page = await listOtpRecords(ctx, request.tenant, {
          status: q.status as never,
          phone: q.recipient,
          reference: q.reference,
          from: timeParam(q.from, 'from'),
          to: timeParam(q.to, 'to'),
          cursor: q.cursor,
          limit: q.limit ?? 20,
        });
        return ok(request.id, { items: page.items.map(renamed), next_cursor: page.next_cursor });
      },
    );

    app.get(
      '/otp/logs',
      {
        schema: {
          hide: true,
          querystring: Query({
            verification_id: Type.Optional(VerificationId),
            type: Type.Optional(Type.String({ maxLength: 64 })),
            from: Type.Optional(Timestamp),
            to: Type.Optional(Timestamp),
            ...PageQuery,
          }),
        },
      },
      async (request) => {
        const q = request.query;
        const page = await listActivity(ctx, request.tenant.app.id, {
          type: q.type,
          otp_id: q.verification_id,
          from: timeParam(q.from, 'from'),
          to: timeParam(q.to, 'to'),
          cursor: q.cursor,
          limit: q.limit ?? 20,
        });
        return ok(request.id, { items: page.items.map(renamed), next_cursor: page.next_cursor });
      },
    );

    app.get(
      '/otp/rate-limits',
      {
        schema: {
          hide: true,
          querystring: Query({
            recipient: Type.Optional(Recipient),
            ip: Type.Optional(Type.String({ minLength: 2, maxLength: 45 })),
          }),
        },
      },
      async (request) => {
        const { app: tenantApp, key_id } = request.tenant;
        const { recipient, ip } = request.query;
        const limits = await readLimits(ctx, effectiveLimits(tenantApp), {
          app_id: tenantApp.id,
          key_id,
          phone: recipient === undefined ? undefined : resolvePhone(tenantApp, recipient).e164,
          ip,
        });
        return ok(request.id, { limits, resend_cooldown: tenantApp.resend_cooldown });
      },
    );

    app.get(
      '/otp/reports',
      {
        schema: {
          hide: true,
          querystring: Query({ from: Type.Optional(Timestamp), to: Type.Optional(Timestamp) }),
        },
      },
      async (request) =>
        ok(
          request.id,
          renamed(
            await otpReport(ctx, request.tenant, {
              from: timeParam(request.query.from, 'from'),
              to: timeParam(request.query.to, 'to'),
            }),
          ),
        ),
    );
  };
