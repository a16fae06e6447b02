import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../../context.js';

/** Webhook endpoints of an app, their deliveries and replays. */
export const webhookRoutes =
  (_ctx: Context): FastifyPluginAsyncTypebox =>
  async (_app) => {};
