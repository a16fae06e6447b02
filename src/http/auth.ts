import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { OtpdError } from '../core/errors.js';
import { isAdminToken } from '../tenancy/init.js';
import { authenticate, type Tenant } from '../tenancy/keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: Tenant;
  }
}

const QUERY_KEY = /(^|[?&])(api_?key|key|token|access_token|apikey|secret)=/i;

/** The secret from `Authorization: Bearer`, HTTP Basic (password or username) or `X-API-Key`. */
export function credentialOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const [scheme, value = ''] = header.split(' ', 2);
    if (/^bearer$/i.test(scheme ?? '')) return value.trim();
    if (/^basic$/i.test(scheme ?? '')) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      return password || user;
    }
  }
  const xKey = request.headers['x-api-key'];
  return typeof xKey === 'string' ? xKey.trim() : undefined;
}

/**
 * onRequest hook of /v1: sets request.tenant or answers 401/403. `credential`
 * reads the key from the request (compatibility layers read their own headers).
 */
export function apiKeyAuth(
  ctx: Context,
  credential: (request: FastifyRequest) => string | undefined = credentialOf,
) {
  return async (request: FastifyRequest) => {
    const query = request.url.indexOf('?');
    if (query >= 0 && QUERY_KEY.test(request.url.slice(query))) {
      throw new OtpdError(
        'INVALID_API_KEY',
        'API keys in query strings are refused (they end up in logs); send the key in the Authorization header.',
      );
    }
    const secret = credential(request);
    if (!secret) {
      throw new OtpdError('INVALID_API_KEY', 'Send your API key as "Authorization: Bearer otpd_…".');
    }
    request.tenant = await authenticate(ctx, secret);
  };
}

/** onRequest hook of /admin: the operator token. */
export function adminAuth(ctx: Context, envToken: string | undefined) {
  return async (request: FastifyRequest) => {
    const token = credentialOf(request);
    if (!token || !(await isAdminToken(ctx, token, envToken))) throw new OtpdError('INVALID_ADMIN_TOKEN');
  };
}
