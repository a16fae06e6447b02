import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import {
  approveTemplate,
  getTemplateForReview,
  listAllTemplates,
  REJECTION_REASON_MAX,
  rejectTemplate,
} from '../../../templates/review.js';
import { ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { AdminTemplateRecord, TemplateStatus } from '../v1/templates.js';

const TemplateParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** Operator review of templates: the queue, approve, reject. */
export const adminTemplateRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/templates',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Templates of every account, newest first (the review queue: ?status=pending)',
          querystring: Type.Object(
            {
              status: Type.Optional(TemplateStatus),
              account_id: Type.Optional(Type.String({ maxLength: 64 })),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(AdminTemplateRecord)),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listAllTemplates(ctx, {
            status: request.query.status as never,
            account_id: request.query.account_id,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.get(
      '/templates/:id',
      {
        schema: {
          tags: ['Admin'],
          summary: 'One template',
          params: TemplateParams,
          response: responses(200, AdminTemplateRecord),
        },
      },
      async (request) => ok(request.id, await getTemplateForReview(ctx, request.params.id)),
    );

    app.post(
      '/templates/:id/approve',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Approve a pending template',
          description:
            'From now on it can be sent; its body never changes. Approving again answers it unchanged.',
          params: TemplateParams,
          response: responses(200, AdminTemplateRecord),
        },
      },
      async (request) => ok(request.id, await approveTemplate(ctx, request.params.id)),
    );

    app.post(
      '/templates/:id/reject',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Reject a pending template, with a reason the tenant sees',
          params: TemplateParams,
          body: Type.Object(
            { reason: Type.String({ minLength: 1, maxLength: REJECTION_REASON_MAX }) },
            { additionalProperties: false },
          ),
          response: responses(200, AdminTemplateRecord),
        },
      },
      async (request) => ok(request.id, await rejectTemplate(ctx, request.params.id, request.body.reason)),
    );
  };
