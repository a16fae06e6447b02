import { randomFillSync } from 'node:crypto';

/**
 * Random bytes drawn from the CSPRNG 4 KiB at a time, each byte handed out
 * once: a call into OpenSSL for every id and every IV was 6 % of a send's CPU.
 */
const pool = Buffer.alloc(4096);
let at = pool.length;

export function randomByte(): number {
  if (at === pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  return pool[at++]!;
}

/** `n` fresh random bytes (a copy: the pool's bytes are never handed out twice). */
export function randomBytesPooled(n: number): Buffer {
  if (n > pool.length) return randomFillSync(Buffer.alloc(n));
  if (at + n > pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  const out = Buffer.from(pool.subarray(at, at + n));
  at += n;
  return out;
}
