import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { invalid } from '../core/errors.js';

/**
 * scrypt with N = 2^15, r = 8, p = 1 (32 MiB, ~50 ms here): OWASP's floor is
 * 2^17 with r = 8 or an equivalent; 2^15 keeps a login under 100 ms on small
 * hosts. The parameters are stored with each hash, so raising them later
 * only needs new hashes, which `needsRehash` tells about.
 */
const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 200;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/** Refuses passwords that are too short or too long (a very long one only costs CPU). */
export function checkPassword(password: string, field = 'password'): void {
  if (password.length < PASSWORD_MIN)
    throw invalid(field, `A password needs at least ${PASSWORD_MIN} characters.`);
  if (password.length > PASSWORD_MAX)
    throw invalid(field, `A password may have at most ${PASSWORD_MAX} characters.`);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, LOG_N, R, P);
  return ['scrypt', LOG_N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Compares in constant time; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !logN || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(logN), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | undefined;

/**
 * A hash to check against when the email is unknown: a login for a missing
 * user then costs as much as one for a real user, so timing does not say
 * which addresses have accounts.
 */
export const decoyHash = (): Promise<string> => {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
};
