import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../../context.js';
import { nexcodeRoutes } from './nexcode.js';
import { nexoRoutes } from './nexo.js';
import { otpapiRoutes } from './otpapi.js';
import { sendexaRoutes } from './sendexa.js';

/**
 * `/compat/<name>/…`: the reference APIs' own request and answer shapes over
 * otpd's engine, so that a client of one switches by changing its base URL.
 * Each is a thin mapping (src/compat/<name>.ts) onto the same services and
 * the same API-key lookup as /v1; each answers every error in its own shape.
 * /v1's Idempotency-Key handling does not apply here: none of the references
 * has it (see docs/compat.md).
 */
export const compatRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    await app.register(sendexaRoutes(ctx), { prefix: '/sendexa' });
    await app.register(nexcodeRoutes(ctx), { prefix: '/nexcode' });
    await app.register(otpapiRoutes(ctx), { prefix: '/otpapi' });
    await app.register(nexoRoutes(ctx), { prefix: '/nexo' });
  };
