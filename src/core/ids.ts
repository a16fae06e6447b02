import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 text of `bytes` random bytes, by rejection sampling (no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 62 * 4: bytes at or above it would bias the alphabet.
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export function encodeBase62(value: bigint, width: number): string {
  let out = '';
  let v = value;
  while (v > 0n) {
    out = BASE62[Number(v % 62n)] + out;
    v /= 62n;
  }
  return out.padStart(width, '0');
}

export type IdPrefix = 'acc' | 'app' | 'key' | 'otp' | 'msg' | 'req' | 'act' | 'att' | 'inb';

/**
 * Prefixed, time-ordered ids (`otp_…`): 8 base62 chars of milliseconds then 14 random.
 * Time order keeps B-tree inserts local and gives cursor pagination a stable order.
 */
export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${encodeBase62(BigInt(nowMs), 8)}${randomBase62(14)}`;
}
