import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  timingSafeEqual,
} from 'node:crypto';
import { randomBytesPooled } from './random.js';

/** Keys derived once from OTPD_SECRET; each purpose gets its own key. */
export interface Keyring {
  /** HMAC key for stored OTP codes. */
  codeKey: Buffer;
  /** AES-256-GCM key for the recoverable copies (code, message text). */
  encryptionKey: Buffer;
  /** HMAC key for tokens otpd hands out and checks itself (receipt URLs). */
  tokenKey: Buffer;
}

export function deriveKeyring(secret: string): Keyring {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'otpd', info, 32) as ArrayBuffer);
  return {
    codeKey: derive('otp-code-hmac-v1'),
    encryptionKey: derive('aes-gcm-v1'),
    tokenKey: derive('token-hmac-v1'),
  };
}

/** A URL-safe HMAC token of `purpose` and `value`, to check with `checkToken`. */
export function signToken(keyring: Keyring, purpose: string, value: string): string {
  return createHmac('sha256', keyring.tokenKey)
    .update(`${purpose}\n${value}`)
    .digest('base64url')
    .slice(0, 32);
}

export function checkToken(keyring: Keyring, purpose: string, value: string, token: string): boolean {
  return safeEqual(signToken(keyring, purpose, value), token);
}

/** HMAC of a code, bound to its OTP id so equal codes never hash alike. */
export function hashCode(keyring: Keyring, otpId: string, code: string): string {
  return createHmac('sha256', keyring.codeKey).update(`${otpId}:${code}`).digest('base64url');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Constant-time equality of two strings (time depends only on the length). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

/** AES-256-GCM with the record id as associated data: a ciphertext cannot be moved. */
export function encrypt(keyring: Keyring, plaintext: string, aad: string): string {
  const iv = randomBytesPooled(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.encryptionKey, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

export function decrypt(keyring: Keyring, sealed: string, aad: string): string {
  if (!sealed.startsWith('v1.')) throw new Error('unknown ciphertext version');
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', keyring.encryptionKey, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
