import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../../context.js';

/** The tenant's balance, ledger and usage reports. */
export const walletRoutes =
  (_ctx: Context): FastifyPluginAsyncTypebox =>
  async (_app) => {};
