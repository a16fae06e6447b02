import { iso } from '../context.js';
import { decrypt, encrypt } from '../core/crypto.js';
import { insertMail, listMail, markMail } from '../store/dashboard.js';
import type { Db } from '../store/db.js';
import type { DashboardContext } from './context.js';
import { newDashboardId } from './ids.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** A mail written in a transaction, to hand to SMTP once it committed. */
export interface PendingMail extends Mail {
  id: string;
}

/**
 * Writes a mail to the outbox inside the caller's transaction. Without SMTP
 * it stays there (`local`), encrypted at rest, for the inbox page; with SMTP
 * it is `queued` until `dispatchMail` hands it over after the commit.
 */
export async function writeMail(db: Db, ctx: DashboardContext, mail: Mail): Promise<PendingMail> {
  const now = ctx.clock.now();
  const id = newDashboardId('mal', now);
  const smtp = ctx.dashboard.smtp !== undefined;
  await insertMail(db, {
    id,
    to_address: mail.to,
    subject: mail.subject,
    body_ciphertext: encrypt(ctx.keyring, mail.text, id),
    transport: smtp ? 'smtp' : 'local',
    status: smtp ? 'queued' : 'local',
    error: null,
    created_at: now,
    sent_at: null,
  });
  return { id, ...mail };
}

/**
 * Hands committed mail to SMTP in the background (the request does not wait
 * for a mail server, and its answer must not tell whether a mail was sent).
 * The outcome is recorded; a sent mail's body is wiped, as it holds a link.
 */
export function dispatchMail(ctx: DashboardContext, mails: PendingMail[]): void {
  const smtp = ctx.dashboard.smtp;
  if (!smtp) return;
  for (const mail of mails) {
    const sending = smtp({
      from: ctx.dashboard.config.mailFrom,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
    })
      .then(() =>
        markMail(ctx.store.db, mail.id, { status: 'sent', sent_at: ctx.clock.now(), body_ciphertext: null }),
      )
      .catch(async (error: Error) => {
        ctx.log.warn({ mail_id: mail.id, err: { message: error.message } }, 'mail not sent');
        await markMail(ctx.store.db, mail.id, { status: 'failed', error: error.message.slice(0, 500) });
      });
    ctx.dashboard.track(sending);
  }
}

export interface OutboxMail {
  id: string;
  to: string;
  subject: string;
  /** The text, while otpd holds it (always for local mail). */
  text: string | null;
  transport: string;
  status: string;
  error: string | null;
  created_at: string;
  sent_at: string | null;
}

/** The outbox, newest first: what the inbox page shows under Mail. */
export async function readMail(
  ctx: DashboardContext,
  filter: { to?: string; limit: number },
): Promise<OutboxMail[]> {
  const rows = await listMail(ctx.store.db, { to: filter.to?.toLowerCase(), limit: filter.limit });
  return rows.map((row) => ({
    id: row.id,
    to: row.to_address,
    subject: row.subject,
    text: row.body_ciphertext ? decrypt(ctx.keyring, row.body_ciphertext, row.id) : null,
    transport: row.transport,
    status: row.status,
    error: row.error,
    created_at: iso(row.created_at)!,
    sent_at: iso(row.sent_at),
  }));
}
