import { encrypt, type Keyring } from '../core/crypto.js';
import { newId } from '../core/ids.js';
import type { Channel, Environment } from '../core/policy.js';
import type { Db } from '../store/db.js';
import { insertMessage } from '../store/messages.js';

/**
 * Queues one message in the caller's transaction: it exists exactly when the
 * change that caused it does, so an acknowledged send is never lost.
 */
export async function queueMessage(
  db: Db,
  keyring: Keyring,
  now: number,
  m: {
    account_id: string;
    app_id: string;
    otp_id: string | null;
    environment: Environment;
    channel: Channel;
    phone: string;
    sender_id: string | null;
    text: string;
  },
): Promise<string> {
  const id = newId('msg', now);
  await insertMessage(db, {
    id,
    account_id: m.account_id,
    app_id: m.app_id,
    otp_id: m.otp_id,
    environment: m.environment,
    channel: m.channel,
    phone: m.phone,
    sender_id: m.sender_id,
    provider: null,
    provider_message_id: null,
    status: 'queued',
    error: null,
    tries: 0,
    next_try_at: now,
    text_ciphertext: encrypt(keyring, m.text, id),
    created_at: now,
    updated_at: now,
    sent_at: null,
  });
  return id;
}
