import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { sha256 } from '../core/crypto.js';
import { OtpdError } from '../core/errors.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  findIdempotencyKey,
  releaseIdempotencyKey,
  takeOverIdempotencyKey,
} from '../store/idempotency.js';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey?: string;
  }
}

const KEEP_MS = 24 * 3600_000;
/** A claim older than this belongs to a request whose process died. */
const CLAIM_MS = 60_000;
const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` on POST: the same key with the same request replays the
 * first response for 24 h; with another request it is a 422; while the first
 * is in flight, a 409. Answers that a retry could change (429, 5xx, the 409
 * itself) are not kept.
 */
export function idempotency(ctx: Context, scopeOf: (request: FastifyRequest) => string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'POST') return;
    const key = request.headers['idempotency-key'];
    if (key === undefined) return;
    if (typeof key !== 'string' || !KEY_SHAPE.test(key)) {
      throw new OtpdError('INVALID_REQUEST', 'Idempotency-Key must be 1–255 visible ASCII characters.', {
        field: 'Idempotency-Key',
      });
    }
    const now = ctx.clock.now();
    const claim = {
      scope_key: `${scopeOf(request)}:${key}`,
      request_hash: sha256(`${request.method} ${request.routeOptions.url} ${request.url} ${JSON.stringify(request.body ?? null)}`),
      locked_until: now + CLAIM_MS,
      expires_at: now + KEEP_MS,
    };
    const db = ctx.store.db;
    if (await claimIdempotencyKey(db, claim)) {
      request.idempotencyKey = claim.scope_key;
      return;
    }
    const existing = await findIdempotencyKey(db, claim.scope_key);
    const taken = !existing
      ? await claimIdempotencyKey(db, claim) // released in between
      : existing.expires_at <= now ||
          (existing.state === 'in_flight' && existing.locked_until <= now && existing.request_hash === claim.request_hash)
        ? await takeOverIdempotencyKey(db, claim, now)
        : false;
    if (taken) {
      request.idempotencyKey = claim.scope_key;
      return;
    }
    if (existing && existing.request_hash !== claim.request_hash) throw new OtpdError('IDEMPOTENCY_KEY_REUSED');
    if (!existing || existing.state !== 'done') throw new OtpdError('IDEMPOTENCY_CONFLICT');
    return reply
      .code(existing.response_status!)
      .header('content-type', 'application/json; charset=utf-8')
      .header('idempotent-replayed', 'true')
      .send(existing.response_body);
  };
}

/** Keeps the answer of a claimed request, or lets go of the claim. */
export function registerIdempotencyCompletion(app: FastifyInstance, ctx: Context) {
  app.addHook('onSend', async (request, reply, payload) => {
    const scopeKey = request.idempotencyKey;
    if (!scopeKey) return payload;
    request.idempotencyKey = undefined;
    const status = reply.statusCode;
    if (status >= 500 || status === 429 || typeof payload !== 'string') await releaseIdempotencyKey(ctx.store.db, scopeKey);
    else await completeIdempotencyKey(ctx.store.db, scopeKey, status, payload);
    return payload;
  });
}
