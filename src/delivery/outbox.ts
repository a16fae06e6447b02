import { decrypt, encrypt, type Keyring } from '../core/crypto.js';
import { newId } from '../core/ids.js';
import type { Channel, Environment } from '../core/policy.js';
import type { Db } from '../store/db.js';
import { insertMessage } from '../store/messages.js';
import { holdCharge } from '../wallet/charges.js';

export interface QueuedMessage {
  account_id: string;
  app_id: string;
  otp_id: string | null;
  kind?: 'otp' | 'sms';
  environment: Environment;
  channel: Channel;
  phone: string;
  country: string | null;
  sender_id: string | null;
  locale?: string | null;
  text: string;
  /** The OTP's code, for providers that send it apart from the text. */
  code?: string | null;
  /** Position in the app's channel fallback chain. */
  step?: number;
}

/** What the outbox keeps encrypted: the text and, for OTPs, the code. */
interface Payload {
  text: string;
  code: string | null;
}

/**
 * Queues one message in the caller's transaction: it exists exactly when the
 * change that caused it does, so an acknowledged send is never lost. A live
 * message first holds its price from the account's balance (see
 * src/wallet/charges.ts); when the balance is too low this throws
 * INSUFFICIENT_BALANCE before writing anything, and the caller's transaction
 * rolls back with it.
 */
export async function queueMessage(db: Db, keyring: Keyring, now: number, m: QueuedMessage): Promise<string> {
  const id = newId('msg', now);
  await holdCharge(db, now, {
    message_id: id,
    account_id: m.account_id,
    app_id: m.app_id,
    environment: m.environment,
    channel: m.channel,
    country: m.country,
    text: m.text,
  });
  const payload: Payload = { text: m.text, code: m.code ?? null };
  await insertMessage(db, {
    id,
    account_id: m.account_id,
    app_id: m.app_id,
    otp_id: m.otp_id,
    kind: m.kind ?? 'otp',
    environment: m.environment,
    channel: m.channel,
    phone: m.phone,
    country: m.country,
    locale: m.locale ?? null,
    sender_id: m.sender_id,
    provider: null,
    provider_message_id: null,
    status: 'queued',
    error: null,
    tries: 0,
    step: m.step ?? 0,
    provider_index: 0,
    provider_tries: 0,
    next_try_at: now,
    text_ciphertext: encrypt(keyring, JSON.stringify(payload), id),
    created_at: now,
    updated_at: now,
    sent_at: null,
  });
  return id;
}

/** Reads a queued message's text and code back. */
export function readPayload(keyring: Keyring, ciphertext: string, id: string): Payload {
  const plain = decrypt(keyring, ciphertext, id);
  // Messages queued before 0002 hold the bare text.
  if (!plain.startsWith('{')) return { text: plain, code: null };
  return JSON.parse(plain) as Payload;
}
