import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../../context.js';

/** Top-ups, the price table and wallet settings. */
export const adminWalletRoutes =
  (_ctx: Context): FastifyPluginAsyncTypebox =>
  async (_app) => {};
