import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** 24 random bytes, base64 after `whsec_`: the format Standard Webhooks libraries read. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/**
 * The signature headers of one request. `secrets` are the endpoint's active
 * secrets, newest first: during a rotation each header carries one signature
 * per secret, so a receiver holding either secret verifies.
 *
 * - Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256 of
 *   "id.timestamp.body">`, keyed with the base64-decoded secret, signatures
 *   separated by spaces.
 * - `X-Otpd-Signature: t=<timestamp>,v1=<hex HMAC-SHA256 of
 *   "timestamp.body">`, keyed with the whole `whsec_…` string as given to the
 *   integrator (as NepalOTP-style receivers use their secret).
 */
export function signatureHeaders(
  id: string,
  timestamp: number,
  body: string,
  secrets: string[],
): Record<string, string> {
  const at = new Date(timestamp * 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(' '),
    'x-otpd-signature': [
      `t=${timestamp}`,
      ...secrets.map(
        (secret) => `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`,
      ),
    ].join(','),
  };
}
