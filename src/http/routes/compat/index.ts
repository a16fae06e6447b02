import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../../context.js';

/** `/compat/<name>/…`: the reference APIs' own request and answer shapes over otpd's engine. */
export const compatRoutes =
  (_ctx: Context): FastifyPluginAsyncTypebox =>
  async (_app) => {};
