import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import { canReceiveText } from '../core/phone.js';
import { effectiveLimits } from '../core/policy.js';
import { checkVariables, parseTemplate, renderTemplate } from '../core/template.js';
import { queueMessage } from '../delivery/outbox.js';
import { takeSmsLimits } from '../limits/limits.js';
import { resolvePhone } from '../otp/send.js';
import { findApprovedTemplate, findTemplate, type TemplateRow } from '../store/templates.js';
import type { Tenant } from '../tenancy/keys.js';
import { templateNotFound } from './record.js';

export interface SmsSendInput {
  phone: string;
  template_id: string;
  variables?: Record<string, unknown>;
}

export interface SmsSent {
  message_id: string;
  status: 'queued';
  phone: string;
  template_id: string;
  created_at: string;
}

/** Only an approved template of the key's account can be sent; the tenant learns why its own cannot. */
function unusable(id: string, row: TemplateRow | undefined): OtpdError {
  if (!row) return templateNotFound(id);
  const why = {
    pending: 'is pending approval; it can be sent once an operator approves it',
    rejected: 'was rejected',
    deleted: 'was deleted',
  }[row.status as 'pending' | 'rejected' | 'deleted'];
  return new OtpdError('TEMPLATE_NOT_FOUND', `Template ${id} ${why ?? 'cannot be sent'}.`, {
    field: 'template_id',
  });
}

/**
 * Sends a transactional SMS from an approved template. The limit counters,
 * the queued message and the log entry are written in one transaction: a
 * refused send charges no limit, an accepted one is never lost. The text is
 * kept only encrypted in the outbox; logs and answers carry ids.
 */
export async function sendSms(ctx: Context, tenant: Tenant, input: SmsSendInput): Promise<SmsSent> {
  const { app } = tenant;
  const phone = resolvePhone(app, input.phone);
  if (!canReceiveText(phone)) {
    throw new OtpdError(
      'UNSUPPORTED_CHANNEL',
      `${phone.e164} is not a mobile number and cannot receive SMS.`,
      { field: 'phone' },
    );
  }
  const template = await findTemplate(ctx.store.db, input.template_id, tenant.account_id);
  if (template?.status !== 'approved') throw unusable(input.template_id, template);
  const parsed = parseTemplate(template.body);
  const text = renderTemplate(parsed, checkVariables(parsed, input.variables ?? {}));

  const now = ctx.clock.now();
  const messageId = await ctx.store.tx(async (trx) => {
    // Read again under the transaction: a delete that committed meanwhile wins.
    const current = await findApprovedTemplate(trx, template.id, tenant.account_id, ctx.store.rowLocks);
    if (!current) throw unusable(template.id, await findTemplate(trx, template.id, tenant.account_id));
    await takeSmsLimits(
      trx,
      effectiveLimits(app),
      { app_id: app.id, key_id: tenant.key_id, phone: phone.e164, template_id: template.id },
      now,
    );
    const id = await queueMessage(trx, ctx.keyring, now, {
      account_id: tenant.account_id,
      app_id: app.id,
      otp_id: null,
      kind: 'sms',
      environment: app.environment,
      channel: 'sms',
      phone: phone.e164,
      country: phone.country ?? null,
      sender_id: app.sender_id,
      text,
    });
    await recordActivity(trx, now, {
      account_id: tenant.account_id,
      app_id: app.id,
      type: 'sms.created',
      key_id: tenant.key_id,
      detail: { message_id: id, template_id: template.id },
    });
    return id;
  });
  ctx.wakeDelivery();
  return {
    message_id: messageId,
    status: 'queued',
    phone: phone.e164,
    template_id: template.id,
    created_at: iso(now)!,
  };
}
