import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { listActivity } from '../../../activity/log.js';
import type { Context } from '../../../context.js';
import { effectiveLimits } from '../../../core/policy.js';
import { readLimits } from '../../../limits/limits.js';
import { resolvePhone } from '../../../otp/send.js';
import { Nullable, ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { Timestamp } from '../../schemas.js';
import { timeParam } from '../../validation.js';

const ActivityEntry = Type.Object({
  id: Type.String(),
  type: Type.String(),
  app_id: Nullable(Type.String()),
  otp_id: Nullable(Type.String()),
  key_id: Nullable(Type.String()),
  detail: Type.Object({}, { additionalProperties: true }),
  created_at: Timestamp,
});

const LimitStatus = Type.Object({
  scope: Type.String(),
  max: Type.Integer(),
  window: Type.Integer({ description: 'seconds' }),
  remaining: Type.Integer(),
  reset_at: Nullable(Timestamp),
});

/** The key's own view: its activity log and its limits. */
export const accountRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/logs',
      {
        schema: {
          tags: ['Logs'],
          summary: "The app's activity log, newest first",
          querystring: Type.Object(
            {
              type: Type.Optional(Type.String({ maxLength: 64 })),
              otp_id: Type.Optional(Type.String({ maxLength: 64 })),
              from: Type.Optional(Timestamp),
              to: Type.Optional(Timestamp),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(ActivityEntry)),
        },
      },
      async (request) => {
        const q = request.query;
        return ok(
          request.id,
          await listActivity(ctx, request.tenant.app.id, {
            type: q.type,
            otp_id: q.otp_id,
            from: timeParam(q.from, 'from'),
            to: timeParam(q.to, 'to'),
            cursor: q.cursor,
            limit: q.limit ?? 20,
          }),
        );
      },
    );

    app.get(
      '/rate-limits',
      {
        schema: {
          tags: ['Limits'],
          summary: 'Limits with what remains and when each window resets',
          querystring: Type.Object(
            {
              phone: Type.Optional(Type.String({ minLength: 3, maxLength: 32 })),
              ip: Type.Optional(Type.String({ minLength: 2, maxLength: 45 })),
            },
            { additionalProperties: false },
          ),
          response: responses(
            200,
            Type.Object({
              limits: Type.Array(LimitStatus),
              resend_cooldown: Type.Integer({ description: 'seconds' }),
            }),
          ),
        },
      },
      async (request) => {
        const { app: tenantApp, key_id } = request.tenant;
        const phone =
          request.query.phone === undefined ? undefined : resolvePhone(tenantApp, request.query.phone).e164;
        const limits = await readLimits(ctx, effectiveLimits(tenantApp), {
          app_id: tenantApp.id,
          key_id,
          phone,
          ip: request.query.ip,
        });
        return ok(request.id, { limits, resend_cooldown: tenantApp.resend_cooldown });
      },
    );
  };
