import { WebhookVerificationError } from './errors.js';
import type { Message, Otp } from './types.js';

interface EventOf<Type extends string, Data> {
  /** `evt_…`: the same on every retry and replay; deduplicate on it. */
  id: string;
  type: Type;
  /** When the change happened (not when this request was sent). */
  created_at: string;
  app: { app_id: string; name: string; environment: 'sandbox' | 'live' };
  data: Data;
}

/** `balance.low`: the account's balance and threshold (micro-units), with what caused the drop. */
export interface BalanceLowData {
  account_id: string;
  balance: number | null;
  currency: string | null;
  low_balance_threshold?: number;
  [detail: string]: unknown;
}

/** A webhook event as otpd sends it; narrow on `type`. */
export type WebhookEvent =
  | EventOf<'otp.sent' | 'otp.delivered' | 'otp.failed', Otp & { message: Message | null }>
  | EventOf<'otp.verified' | 'otp.expired', Otp>
  | EventOf<'sms.sent' | 'sms.delivered' | 'sms.failed', Message>
  | EventOf<'balance.low', BalanceLowData>;

export type WebhookEventType = WebhookEvent['type'];

/** A `Headers` object, or plain headers as Node's `req.headers` has them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface WebhookVerifyOptions {
  /** How far the signed timestamp may be from now, either way (default 300 s). */
  toleranceSeconds?: number;
  /** The current time in ms (default `Date.now()`). */
  now?: number;
}

const encoder = new TextEncoder();

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}

function rawBytes(body: unknown): Uint8Array<ArrayBuffer> {
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof Uint8Array) return new Uint8Array(body);
  throw new WebhookVerificationError(
    'Pass the raw request body (a string, Uint8Array/Buffer or ArrayBuffer), exactly as received, not the parsed JSON.',
  );
}

function concat(prefix: string, body: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(prefix);
  const all = new Uint8Array(head.length + body.length);
  all.set(head);
  all.set(body, head.length);
  return all;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function fromHex(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text)) return undefined;
  return Uint8Array.from(text.match(/../g)!, (byte) => Number.parseInt(byte, 16));
}

const hmacKey = (raw: Uint8Array<ArrayBuffer>) =>
  globalThis.crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);

/** Web Crypto's verify compares the MACs in constant time. */
async function anyMatches(
  keys: Uint8Array<ArrayBuffer>[],
  signatures: Uint8Array<ArrayBuffer>[],
  signed: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  for (const raw of keys) {
    const key = await hmacKey(raw);
    for (const signature of signatures) {
      if (await globalThis.crypto.subtle.verify('HMAC', key, signature, signed)) return true;
    }
  }
  return false;
}

function checkTimestamp(timestamp: string | undefined, options: WebhookVerifyOptions): string {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) {
    throw new WebhookVerificationError('The webhook timestamp is missing or not Unix seconds.');
  }
  const tolerance = options.toleranceSeconds ?? 300;
  const now = (options.now ?? Date.now()) / 1000;
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError(
      `The webhook timestamp is more than ${tolerance} s away from now: a replayed or delayed request.`,
    );
  }
  return timestamp;
}

/** The secret as Standard Webhooks keys with it: the base64 after `whsec_`. */
function standardKey(secret: string): Uint8Array<ArrayBuffer> {
  const key = fromBase64(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret);
  if (!key || key.length === 0)
    throw new WebhookVerificationError('The webhook secret is not a whsec_… secret.');
  return key;
}

/**
 * Checks a webhook request from otpd and answers its event; throws
 * `WebhookVerificationError` when the signature, the timestamp or the body
 * is wrong. `body` must be the raw body, before any JSON parsing.
 *
 * Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)
 * is checked when present: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
 * keyed with the base64 decoding of the secret after `whsec_`, any of the
 * space-separated signatures matching. Otherwise `X-Otpd-Signature`
 * (`t=<ts>,v1=<hex HMAC-SHA256 of "ts.body">`, keyed with the whole secret
 * string). Either way the timestamp must be within `toleranceSeconds`.
 *
 * `secret` may be a list: during a rotation, a receiver holding either
 * secret verifies.
 */
export async function verifyWebhook(
  body: string | Uint8Array | ArrayBuffer,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: WebhookVerifyOptions = {},
): Promise<WebhookEvent> {
  const bytes = rawBytes(body);
  const secrets = (typeof secret === 'string' ? [secret] : [...secret]).filter((s) => s.length > 0);
  if (secrets.length === 0) throw new WebhookVerificationError('No webhook secret was given.');

  const standard = header(headers, 'webhook-signature');
  const otpd = header(headers, 'x-otpd-signature');
  let verified: boolean;
  if (standard !== undefined) {
    const id = header(headers, 'webhook-id');
    if (!id) throw new WebhookVerificationError('The webhook-id header is missing.');
    const timestamp = checkTimestamp(header(headers, 'webhook-timestamp'), options);
    const signatures = standard
      .split(' ')
      .map((entry) => entry.split(','))
      .filter(([version]) => version === 'v1')
      .map(([, signature]) => fromBase64(signature ?? ''))
      .filter((s): s is Uint8Array<ArrayBuffer> => s !== undefined && s.length > 0);
    verified = await anyMatches(secrets.map(standardKey), signatures, concat(`${id}.${timestamp}.`, bytes));
  } else if (otpd !== undefined) {
    const parts = otpd.split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    });
    const timestamp = checkTimestamp(parts.find(([k]) => k === 't')?.[1], options);
    const signatures = parts
      .filter(([k]) => k === 'v1')
      .map(([, v]) => fromHex(v))
      .filter((s): s is Uint8Array<ArrayBuffer> => s !== undefined);
    verified = await anyMatches(
      secrets.map((s) => encoder.encode(s)),
      signatures,
      concat(`${timestamp}.`, bytes),
    );
  } else {
    throw new WebhookVerificationError('The request carries no otpd signature (webhook-signature).');
  }
  if (!verified) throw new WebhookVerificationError('No signature matches the webhook secret.');

  let event: unknown;
  try {
    event = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new WebhookVerificationError('The webhook body is not JSON.');
  }
  if (!event || typeof event !== 'object' || typeof (event as WebhookEvent).type !== 'string') {
    throw new WebhookVerificationError('The webhook body is not an otpd event.');
  }
  return event as WebhookEvent;
}
