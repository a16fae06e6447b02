import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { register } from 'prom-client';
import type { Context } from '../../context.js';
import { OtpdError } from '../../core/errors.js';
import { databaseUnavailable, ping } from '../../store/db.js';
import { ok } from '../envelope.js';

export const healthRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get('/healthz', { schema: { hide: true } }, async (request) => ok(request.id, { status: 'ok' }));

    app.get('/readyz', { schema: { hide: true } }, async (request) => {
      try {
        await ping(ctx.store.db);
      } catch (error) {
        // A database that is down is answered (and logged, at most every 10 s) by the error handler.
        if (databaseUnavailable(error)) throw error;
        request.log.warn({ err: error }, 'database not reachable');
        throw new OtpdError('SERVICE_UNAVAILABLE', 'The database is not reachable.', { retry_after: 5 });
      }
      return ok(request.id, { status: 'ready', database: ctx.store.dialect });
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
      reply.header('content-type', register.contentType).send(await register.metrics()),
    );
  };
