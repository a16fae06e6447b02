import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import { parsePhone } from '../../../core/phone.js';
import { readInbox } from '../../../delivery/inbox.js';
import { Nullable, ok, responses } from '../../envelope.js';
import { Timestamp } from '../../schemas.js';

export const InboxItem = Type.Object({
  id: Type.String(),
  message_id: Type.String(),
  app_id: Type.String(),
  environment: Type.String(),
  phone: Type.String(),
  channel: Type.String(),
  sender_id: Nullable(Type.String()),
  text: Type.String(),
  created_at: Timestamp,
});

export const inboxRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/inbox',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Messages the inbox provider received, newest first, with their text',
          querystring: Type.Object(
            {
              phone: Type.Optional(Type.String({ minLength: 3, maxLength: 32 })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
            },
            { additionalProperties: false },
          ),
          response: responses(200, Type.Object({ items: Type.Array(InboxItem) })),
        },
      },
      async (request) => {
        const phone = request.query.phone === undefined ? undefined : parsePhone(request.query.phone).e164;
        return ok(request.id, { items: await readInbox(ctx, { phone, limit: request.query.limit ?? 50 }) });
      },
    );
  };
