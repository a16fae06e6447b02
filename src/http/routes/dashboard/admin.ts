import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { DashboardContext } from '../../../dashboard/context.js';
import { readMail } from '../../../dashboard/mail.js';
import { listAllLiveRequests, reviewLiveMode } from '../../../dashboard/tenant.js';
import { Nullable, ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { Id, Timestamp } from '../../schemas.js';
import { LiveRequestRecord } from './tenant.js';

export const MailItem = Type.Object({
  id: Type.String(),
  to: Type.String(),
  subject: Type.String(),
  text: Nullable(Type.String()),
  transport: Type.String(),
  status: Type.String(),
  error: Nullable(Type.String()),
  created_at: Timestamp,
  sent_at: Nullable(Timestamp),
});

const LiveParams = Type.Object({ id: Id('lmr') });

/** The operator's side of the dashboard: the mail outbox and live-mode reviews (operator token). */
export const dashboardAdminRoutes =
  (ctx: DashboardContext): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/mail',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Mail otpd wrote (verification, password reset), newest first; without SMTP it stays here',
          querystring: Type.Object(
            {
              to: Type.Optional(Type.String({ maxLength: 254 })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
            },
            { additionalProperties: false },
          ),
          response: responses(200, Type.Object({ items: Type.Array(MailItem) })),
        },
      },
      async (request) =>
        ok(request.id, {
          items: await readMail(ctx, { to: request.query.to, limit: request.query.limit ?? 50 }),
        }),
    );

    app.get(
      '/live-requests',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Requests for live mode, newest first',
          querystring: Type.Object(
            {
              status: Type.Optional(
                Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
              ),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(LiveRequestRecord)),
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
      '/live-requests/:id/approve',
      {
        schema: {
          tags: ['Admin'],
          summary: "Approve an account's live mode: its apps may then switch to live",
          params: LiveParams,
          response: responses(200, LiveRequestRecord),
        },
      },
      async (request) => ok(request.id, await reviewLiveMode(ctx, request.params.id, { status: 'approved' })),
    );

    app.post(
      '/live-requests/:id/reject',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Reject a live-mode request, with a note for the tenant',
          params: LiveParams,
          body: Type.Object(
            { note: Type.String({ minLength: 1, maxLength: 500 }) },
            { additionalProperties: false },
          ),
          response: responses(200, LiveRequestRecord),
        },
      },
      async (request) =>
        ok(
          request.id,
          await reviewLiveMode(ctx, request.params.id, { status: 'rejected', note: request.body.note }),
        ),
    );
  };
