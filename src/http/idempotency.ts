import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { decrypt, encrypt, sha256 } from '../core/crypto.js';
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

/** JSON with object keys sorted: the same request in another key order hashes alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

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
      request_hash: sha256(`${request.method} ${request.url} ${canonicalJson(request.body ?? null)}`),
      locked_until: now + CLAIM_MS,
      expires_at: now + KEEP_MS,
    };
    const db = ctx.store.db;
    if (await claimIdempotencyKey(db, claim)) {
      request.idempotencyKey = claim.scope_key;
      return;
    }
    const existing = await findIdempotencyKey(db, claim.scope_key);
    // The guarded update decides: an expired key, or a claim whose process died.
    const taken = existing
      ? await takeOverIdempotencyKey(db, claim, now)
      : await claimIdempotencyKey(db, claim); // released in between
    if (taken) {
      request.idempotencyKey = claim.scope_key;
      return;
    }
    if (!existing) throw new OtpdError('IDEMPOTENCY_CONFLICT');
    if (existing.request_hash !== claim.request_hash) throw new OtpdError('IDEMPOTENCY_KEY_REUSED');
    if (existing.state !== 'done') throw new OtpdError('IDEMPOTENCY_CONFLICT');
    const body = decrypt(ctx.keyring, existing.response_body!, existing.scope_key);
    const first = JSON.parse(body) as { request_id?: string; error?: { retry_after?: number } };
    // The replay is the first answer: its headers say what the first one's said.
    if (first.request_id) reply.header('x-request-id', first.request_id);
    if (first.error?.retry_after !== undefined) reply.header('retry-after', String(first.error.retry_after));
    return reply
      .code(existing.response_status!)
      .header('content-type', 'application/json; charset=utf-8')
      .header('idempotent-replayed', 'true')
      .send(body);
  };
}

/** Keeps the answer of a claimed request, or lets go of the claim. */
export function registerIdempotencyCompletion(app: FastifyInstance, ctx: Context) {
  app.addHook('onSend', async (request, reply, payload) => {
    const scopeKey = request.idempotencyKey;
    if (!scopeKey) return payload;
    request.idempotencyKey = undefined;
    const status = reply.statusCode;
    if (status >= 500 || status === 429 || typeof payload !== 'string')
      await releaseIdempotencyKey(ctx.store.db, scopeKey);
    else {
      // Encrypted at rest: an answer may hold a key's secret (shown once) or an integrator's metadata.
      await completeIdempotencyKey(ctx.store.db, scopeKey, status, encrypt(ctx.keyring, payload, scopeKey));
    }
    return payload;
  });
}
