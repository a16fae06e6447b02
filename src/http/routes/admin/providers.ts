import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import type { Delivery } from '../../../delivery/registry.js';
import { countDueMessages, oldestDueAge } from '../../../store/messages.js';
import { Nullable, ok, responses } from '../../envelope.js';
import { Channel } from '../../schemas.js';

const ProviderStatus = Type.Object({
  name: Type.String(),
  type: Type.String(),
  channels: Type.Array(Channel),
  ok: Type.Boolean({ description: "this process's view: bound, reachable, credentials accepted" }),
  detail: Nullable(Type.String()),
});

/** Providers as this process sees them, and the outbox: for operators and the console. */
export const providerRoutes =
  (ctx: Context, delivery: Delivery): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/providers',
      {
        schema: {
          tags: ['Admin'],
          summary:
            'Configured providers and their health; outbox depth and the age of the oldest due message',
          response: responses(
            200,
            Type.Object({
              items: Type.Array(ProviderStatus),
              routes: Type.Integer({
                description: 'configured routes; 0 means everything goes to the inbox',
              }),
              outbox_depth: Type.Integer(),
              oldest_due_seconds: Type.Number(),
            }),
          ),
        },
      },
      async (request) => {
        const now = ctx.clock.now();
        const items = [...delivery.providers.values()].map((p) => {
          const health = p.health?.() ?? { ok: true };
          return {
            name: p.name,
            type: p.type,
            channels: [...p.channels],
            ok: health.ok,
            detail: health.detail ?? null,
          };
        });
        return ok(request.id, {
          items,
          routes: delivery.config.routes.length,
          outbox_depth: await countDueMessages(ctx.store.db),
          oldest_due_seconds: await oldestDueAge(ctx.store.db, now),
        });
      },
    );
  };
