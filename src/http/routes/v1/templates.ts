import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../../context.js';

/** Transactional SMS templates and POST /v1/sms/send (per account). */
export const templateRoutes =
  (_ctx: Context): FastifyPluginAsyncTypebox =>
  async (_app) => {};
