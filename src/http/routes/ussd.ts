import type { FastifyInstance } from 'fastify';
import type { Context } from '../../context.js';
import type { Delivery } from '../../delivery/registry.js';

/** The USSD gateway callback (`POST /ussd`): placeholder while it is written. */
export function ussdRoutes(_ctx: Context, _delivery: Delivery) {
  return async (_app: FastifyInstance) => {};
}
