import type { Context } from '../context.js';
import { iso } from '../context.js';
import { decrypt, encrypt } from '../core/crypto.js';
import { GroupCommit } from '../core/group-commit.js';
import { newId } from '../core/ids.js';
import { type InboxInsert, insertInboxMessages, listInbox } from '../store/messages.js';
import type { OutboundMessage, Provider, ProviderResult } from './provider.js';

/**
 * The built-in provider: messages stay on this machine, in the inbox table
 * (encrypted at rest), for the dev inbox page and GET /admin/v1/inbox. It is
 * what sandbox apps and installs without a configured provider use.
 */
export class InboxProvider implements Provider {
  readonly name = 'inbox';
  readonly type = 'inbox';
  /** Idempotent on the message id: a message in doubt after a crash is simply delivered again. */
  readonly idempotent = true;
  readonly channels = ['sms', 'whatsapp', 'voice', 'rcs'] as const;

  /**
   * The worker's lanes hand over many messages at once: they are written
   * together, one statement and one commit for all that arrive while one is
   * written (on PostgreSQL a commit per message was most of the drain's time).
   * Each send still answers only after its row is committed.
   */
  private readonly writes = new GroupCommit<InboxInsert, undefined>(async (rows) => {
    await insertInboxMessages(this.ctx.store.db, rows);
    return rows.map(() => undefined);
  }, 200);

  constructor(private readonly ctx: Context) {}

  async send(message: OutboundMessage): Promise<ProviderResult> {
    const id = newId('inb', this.ctx.clock.now());
    await this.writes.add({
      id,
      message_id: message.id,
      app_id: message.app_id,
      environment: message.environment,
      phone: message.phone,
      channel: message.channel,
      sender_id: message.sender_id,
      text_ciphertext: encrypt(this.ctx.keyring, message.text, message.id),
      created_at: this.ctx.clock.now(),
    });
    return { provider_message_id: id, status: 'delivered' };
  }
}

export interface InboxMessage {
  id: string;
  message_id: string;
  app_id: string;
  environment: string;
  phone: string;
  channel: string;
  sender_id: string | null;
  text: string;
  created_at: string;
}

/** What the inbox received, newest first, with the text. */
export async function readInbox(
  ctx: Context,
  filter: { phone?: string; appId?: string; limit: number },
): Promise<InboxMessage[]> {
  const rows = await listInbox(ctx.store.db, filter);
  return rows.map((row) => ({
    id: row.id,
    message_id: row.message_id,
    app_id: row.app_id,
    environment: row.environment,
    phone: row.phone,
    channel: row.channel,
    sender_id: row.sender_id,
    text: decrypt(ctx.keyring, row.text_ciphertext, row.message_id),
    created_at: iso(row.created_at)!,
  }));
}
