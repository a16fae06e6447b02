import { randomInt } from 'node:crypto';
import { randomByte } from './random.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 text of `length` random characters, by rejection sampling (no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    // 248 = 62 * 4: bytes at or above it would bias the alphabet.
    if (byte < 248) out += BASE62[byte % 62];
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

export type IdPrefix =
  | 'acc'
  | 'app'
  | 'key'
  | 'otp'
  | 'msg'
  | 'req'
  | 'act'
  | 'att'
  | 'inb'
  | 'tpl'
  | 'led'
  | 'whk'
  | 'evt'
  | 'whd'
  | 'wha'
  | 'usr'
  | 'ses'
  | 'utk'
  | 'rcv'
  | 'mal'
  | 'lmr';

const RANDOM_CHARS = 14;
const RANDOM_SPACE = 62n ** BigInt(RANDOM_CHARS);
/** The last id of each prefix that this process issued: its millisecond and random part. */
const lastIssued = new Map<IdPrefix, { ms: number; text: string; random?: bigint }>();
/** The last millisecond encoded, and its text: ids come in bursts within one. */
let lastMs = -1;
let lastMsText = '';

function decodeBase62(text: string): bigint {
  let v = 0n;
  for (const ch of text) v = v * 62n + BigInt(BASE62.indexOf(ch));
  return v;
}

/**
 * Prefixed, time-ordered ids (`otp_…`): 8 base62 chars of milliseconds then 14 random.
 * Time order keeps B-tree inserts local and gives cursor pagination a stable order.
 * Within one millisecond a process steps the random part up (by a random amount)
 * from its last id of that prefix, so ids issued one after another also sort in
 * that order: newest-first lists show events of one millisecond as they happened.
 */
export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  if (nowMs !== lastMs) {
    lastMs = nowMs;
    lastMsText = encodeBase62(BigInt(nowMs), 8);
  }
  const last = lastIssued.get(prefix);
  let text: string | undefined;
  let random: bigint | undefined;
  if (last?.ms === nowMs) {
    random = (last.random ?? decodeBase62(last.text)) + 1n + BigInt(randomInt(2 ** 32));
    // The end of the space (astronomically rare): start afresh.
    if (random < RANDOM_SPACE) text = encodeBase62(random, RANDOM_CHARS);
    else random = undefined;
  }
  // A new millisecond: random characters as they come, no arithmetic.
  text ??= randomBase62(RANDOM_CHARS);
  lastIssued.set(prefix, { ms: nowMs, text, random });
  return `${prefix}_${lastMsText}${text}`;
}
