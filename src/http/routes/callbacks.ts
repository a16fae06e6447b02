import type { FastifyInstance } from 'fastify';
import { OtpdError } from '../../core/errors.js';
import type { Delivery } from '../../delivery/registry.js';

/**
 * `/callbacks/<provider>`: delivery receipts and status callbacks from
 * providers. The body stays raw (a Buffer) whatever its type, because
 * signatures are computed over the exact bytes (WhatsApp) or the form
 * parameters (Twilio); each provider checks its own and answers 401
 * INVALID_SIGNATURE otherwise, before anything changes.
 */
export function callbackRoutes(delivery: Delivery) {
  return async (app: FastifyInstance) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    app.route<{ Params: { provider: string }; Querystring: Record<string, string> }>({
      method: ['GET', 'POST'],
      url: '/callbacks/:provider',
      schema: { hide: true },
      handler: async (request, reply) => {
        const provider = delivery.providers.get(request.params.provider);
        if (!provider?.handleCallback) {
          throw new OtpdError('NOT_FOUND', `No provider ${request.params.provider} takes callbacks.`);
        }
        const base = delivery.config.public_url ?? `${request.protocol}://${request.host}`;
        const answer = await provider.handleCallback({
          method: request.method,
          url: `${base}${request.url}`,
          query: request.query ?? {},
          headers: request.headers,
          body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
          ip: request.ip,
        });
        return reply
          .code(answer.status)
          .type(answer.type ?? 'text/plain; charset=utf-8')
          .send(answer.body ?? '');
      },
    });
  };
}
