import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../../context.js';

/** Operator review of templates: approve, reject. */
export const adminTemplateRoutes =
  (_ctx: Context): FastifyPluginAsyncTypebox =>
  async (_app) => {};
