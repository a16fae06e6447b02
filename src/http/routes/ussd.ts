import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { OtpdError } from '../../core/errors.js';
import type { Delivery } from '../../delivery/registry.js';
import { answerUssd, checkUssdGateway } from '../../delivery/ussd.js';

const Field = (minLength: number) => Type.String({ minLength, maxLength: 200 });

/** Africa's Talking's fields; gateways add others (`networkCode`), which are ignored. */
const UssdBody = Type.Object(
  {
    sessionId: Field(1),
    serviceCode: Field(1),
    phoneNumber: Field(1),
    text: Type.Optional(Field(0)),
  },
  { additionalProperties: true },
);

/**
 * `POST /ussd`: the USSD gateway's callback, form-encoded (as Africa's
 * Talking posts it) or JSON, answered in `text/plain` with `CON …` or
 * `END …`. Served only when `ussd` is configured. The gateway is checked
 * before the body is even read; a failure is a 401 envelope and reads nothing.
 */
export function ussdRoutes(ctx: Context, delivery: Delivery): FastifyPluginAsyncTypebox {
  return async (app) => {
    const spec = delivery.config.ussd;
    if (!spec) return;

    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_request, body, done) => {
        const fields = new Map<string, string>();
        for (const [key, value] of new URLSearchParams(body as string)) {
          // A field sent twice is ambiguous: which phoneNumber is the caller's?
          if (fields.has(key)) {
            done(new OtpdError('INVALID_REQUEST', `${key} is given more than once.`, { field: key }));
            return;
          }
          fields.set(key, value);
        }
        // fromEntries defines own properties: a `__proto__` field stays a plain field.
        done(null, Object.fromEntries(fields));
      },
    );
    app.addContentTypeParser(
      'application/json',
      { parseAs: 'string' },
      app.getDefaultJsonParser('error', 'error'),
    );

    app.post('/ussd', {
      schema: { hide: true, body: UssdBody },
      onRequest: async (request) => {
        const header = request.headers['x-ussd-secret'];
        const query = (request.query as Record<string, unknown> | undefined)?.secret;
        const secret = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
        try {
          checkUssdGateway(spec, { secret, ip: request.ip });
        } catch (error) {
          request.log.warn({ ip: request.ip }, 'ussd: gateway refused');
          throw error;
        }
      },
      handler: async (request, reply) => {
        const { sessionId, serviceCode, phoneNumber, text = '' } = request.body;
        const screen = await answerUssd(ctx, spec, { sessionId, serviceCode, phoneNumber, text });
        return reply.type('text/plain; charset=utf-8').send(screen);
      },
    });
  };
}
