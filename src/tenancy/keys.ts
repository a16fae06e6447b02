import { crc32 } from 'node:zlib';
import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { iso } from '../context.js';
import { sha256 } from '../core/crypto.js';
import { OtpdError } from '../core/errors.js';
import { encodeBase62, newId, randomBase62 } from '../core/ids.js';
import type { Environment } from '../core/policy.js';
import { readsOf } from '../store/db.js';
import {
  type ApiKeyRow,
  countActiveKeys,
  findApiKey,
  findKeyWithApp,
  insertApiKey,
  listApiKeys,
  lockApp,
  revokeApiKey,
  touchApiKey,
} from '../store/tenancy.js';
import { type App, toApp } from './apps.js';

export const MAX_ACTIVE_KEYS = 3;
const RANDOM_CHARS = 30; // 30 base62 chars ≈ 178 bits
const CHECKSUM_CHARS = 6;
const KEY_SHAPE = /^otpd_(test|live)_[0-9A-Za-z]{36}$/;

export interface ApiKey {
  id: string;
  app_id: string;
  environment: Environment;
  /** Shown in lists: `otpd_test_AbCd…wxyz`. */
  display: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const checksum = (body: string): string => encodeBase62(BigInt(crc32(body)), CHECKSUM_CHARS);

/**
 * `otpd_test_<30 random base62><6 base62 CRC32>`: the checksum lets otpd (and
 * secret scanners) reject a mistyped or made-up key without a database lookup.
 */
export function generateKeySecret(environment: Environment): string {
  const body = `otpd_${environment === 'live' ? 'live' : 'test'}_${randomBase62(RANDOM_CHARS)}`;
  return body + checksum(body);
}

export function isWellFormedKey(secret: string): boolean {
  if (!KEY_SHAPE.test(secret)) return false;
  const body = secret.slice(0, -CHECKSUM_CHARS);
  return checksum(body) === secret.slice(-CHECKSUM_CHARS);
}

const toApiKey = (row: ApiKeyRow): ApiKey => ({
  id: row.id,
  app_id: row.app_id,
  environment: row.environment as Environment,
  display: `${row.prefix}…${row.last4}`,
  created_at: iso(row.created_at)!,
  last_used_at: iso(row.last_used_at),
  revoked_at: iso(row.revoked_at),
});

/** Creates a key for the app's current environment; the secret is returned this once. */
export async function createKey(ctx: Context, appId: string): Promise<ApiKey & { secret: string }> {
  const now = ctx.clock.now();
  return ctx.store.tx(async (trx) => {
    // The app row lock (PostgreSQL) or the write lock (SQLite) serialises key
    // creation per app, so parallel requests cannot pass the limit together.
    const app = await lockApp(trx, appId, ctx.store.rowLocks);
    if (!app) throw new OtpdError('NOT_FOUND', `No app ${appId}.`);
    if ((await countActiveKeys(trx, appId)) >= MAX_ACTIVE_KEYS) {
      throw new OtpdError('API_KEY_LIMIT_REACHED');
    }
    const environment = app.environment as Environment;
    const secret = generateKeySecret(environment);
    const row = await insertApiKey(trx, {
      id: newId('key', now),
      app_id: appId,
      account_id: app.account_id,
      environment,
      prefix: secret.slice(0, 14),
      last4: secret.slice(-4),
      hash: sha256(secret),
      created_at: now,
      last_used_at: null,
      revoked_at: null,
    });
    await recordActivity(trx, now, {
      account_id: app.account_id,
      app_id: appId,
      type: 'key.created',
      key_id: row.id,
    });
    return { ...toApiKey(row), secret };
  });
}

export async function listKeys(ctx: Context, appId: string): Promise<ApiKey[]> {
  return (await listApiKeys(ctx.store.db, appId)).map(toApiKey);
}

/** Revokes a key: refused at once by this process, within a second by every other (KEY_CACHE_MS). */
export async function revokeKey(ctx: Context, keyId: string): Promise<ApiKey> {
  const now = ctx.clock.now();
  const result = await ctx.store.tx(async (trx) => {
    const revoked = await revokeApiKey(trx, keyId, now);
    if (revoked) {
      await recordActivity(trx, now, {
        account_id: revoked.account_id,
        app_id: revoked.app_id,
        type: 'key.revoked',
        key_id: keyId,
      });
      return toApiKey(revoked);
    }
    const existing = await findApiKey(trx, keyId);
    if (!existing) throw new OtpdError('NOT_FOUND', `No key ${keyId}.`);
    return toApiKey(existing);
  });
  forgetCachedKeys(ctx);
  return result;
}

/** The tenant a request acts for: its app (with policy) and the key that authenticated it. */
export interface Tenant {
  account_id: string;
  app: App;
  key_id: string;
}

/**
 * Keys (with their app) looked up in the last KEY_CACHE_MS, per store. A
 * revocation or app change made by this process clears it at once; another
 * process's is seen when its entry ages out, so every process refuses a
 * revoked key and applies a new policy within one second.
 */
export const KEY_CACHE_MS = 500;
const KEY_CACHE_MAX = 10_000;

type FoundKey = NonNullable<Awaited<ReturnType<typeof findKeyWithApp>>>;
interface KeyCache {
  entries: Map<string, { found: FoundKey; at: number; app?: App }>;
  /** Bumped by every local change: a lookup that started before it is not kept. */
  generation: number;
}
const keyCaches = new WeakMap<object, KeyCache>();

function keyCacheOf(ctx: Context): KeyCache {
  let cache = keyCaches.get(ctx.store);
  if (!cache) {
    cache = { entries: new Map(), generation: 0 };
    keyCaches.set(ctx.store, cache);
  }
  return cache;
}

/** Drops this process's cached keys: call after a key or app change commits. */
export function forgetCachedKeys(ctx: Context): void {
  const cache = keyCacheOf(ctx);
  cache.entries.clear();
  cache.generation++;
}

async function lookUpKey(ctx: Context, hash: string): Promise<{ found: FoundKey; app?: App } | undefined> {
  const cache = keyCacheOf(ctx);
  const at = performance.now();
  const hit = cache.entries.get(hash);
  if (hit && at - hit.at < KEY_CACHE_MS) return hit;
  const generation = cache.generation;
  const found = await findKeyWithApp(readsOf(ctx.store), hash);
  if (found && generation === cache.generation) {
    if (cache.entries.size >= KEY_CACHE_MAX) cache.entries.clear();
    const entry = { found, at };
    cache.entries.set(hash, entry);
    return entry;
  }
  if (!found) cache.entries.delete(hash);
  return found && { found };
}

export async function authenticate(ctx: Context, secret: string): Promise<Tenant> {
  if (!isWellFormedKey(secret)) throw new OtpdError('INVALID_API_KEY');
  const entry = await lookUpKey(ctx, sha256(secret));
  const found = entry?.found;
  if (!entry || !found || found.key_revoked_at !== null) throw new OtpdError('INVALID_API_KEY');
  if (found.key_environment !== found.environment) {
    throw new OtpdError(
      'ENVIRONMENT_MISMATCH',
      `This ${found.key_environment} key belongs to an app now in ${found.environment} mode; create a new key.`,
    );
  }
  const now = ctx.clock.now();
  if (found.key_last_used_at === null || found.key_last_used_at < now - 60_000) {
    // Noted on the cached row too, so that a cached key is not touched per request.
    found.key_last_used_at = now;
    await touchApiKey(ctx.store.db, found.key_id, now);
  }
  // The app as services read it, made once per cached row (they do not change it).
  entry.app ??= toApp(found);
  return { account_id: found.account_id, app: entry.app, key_id: found.key_id };
}
