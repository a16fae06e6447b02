import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import { getMessageRecord } from '../../../delivery/messages.js';
import { ok, responses } from '../../envelope.js';
import { Id, MessageRecord } from '../../schemas.js';

/** Messages of the key's app: each delivery attempt, its provider and status (never its text). */
export const messageRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/messages/:id',
      {
        schema: {
          tags: ['OTP'],
          summary: 'Status of one message: provider, provider id, error and timings',
          params: Type.Object({ id: Id('msg') }, { additionalProperties: false }),
          response: responses(200, MessageRecord),
        },
      },
      async (request) => ok(request.id, await getMessageRecord(ctx, request.tenant, request.params.id)),
    );
  };
