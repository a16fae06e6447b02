import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { invalid, OtpdError } from '../core/errors.js';
import { type Page, pageOf } from '../core/pagination.js';
import { isPlainText } from '../core/template.js';
import type { Db } from '../store/db.js';
import {
  changeTemplateStatus,
  findTemplate,
  listTemplateRows,
  type TemplateRow,
  type TemplateStatus,
} from '../store/templates.js';
import { type Template, templateNotFound, toTemplate } from './record.js';

// The operator's side of templates: the review queue, approve and reject.

export const REJECTION_REASON_MAX = 500;

/** A template as the admin API shows it: with `id`, like every admin record. */
export type ReviewedTemplate = Template & { id: string };

const forOperator = (row: TemplateRow): ReviewedTemplate => ({ id: row.id, ...toTemplate(row) });

export async function getTemplateForReview(ctx: Context, id: string): Promise<ReviewedTemplate> {
  const row = await findTemplate(ctx.store.db, id);
  if (!row) throw templateNotFound(id);
  return forOperator(row);
}

export async function listAllTemplates(
  ctx: Context,
  f: { status?: TemplateStatus; account_id?: string; cursor?: string; limit: number },
): Promise<Page<ReviewedTemplate>> {
  const rows = await listTemplateRows(ctx.store.db, {
    accountId: f.account_id,
    status: f.status,
    before: f.cursor,
    limit: f.limit,
  });
  return pageOf(rows, f.limit, forOperator);
}

/**
 * Moves a pending template to `to`. The guarded update decides races: of an
 * approve, a reject and the tenant's delete, exactly one applies. Asking
 * again for the outcome a template already has answers it unchanged.
 */
async function review(
  ctx: Context,
  id: string,
  to: 'approved' | 'rejected',
  reason: string | null,
): Promise<ReviewedTemplate> {
  const now = ctx.clock.now();
  return ctx.store.tx(async (trx: Db) => {
    const changed = await changeTemplateStatus(trx, id, ['pending'], {
      status: to,
      rejection_reason: reason,
      reviewed_at: now,
      updated_at: now,
    });
    if (changed) {
      await recordActivity(trx, now, {
        account_id: changed.account_id,
        app_id: changed.app_id,
        type: to === 'approved' ? 'template.approved' : 'template.rejected',
        detail: { template_id: id, ...(reason !== null ? { reason } : {}) },
      });
      return forOperator(changed);
    }
    const existing = await findTemplate(trx, id);
    if (!existing) throw templateNotFound(id);
    if (existing.status === to) return forOperator(existing);
    const verb = to === 'approved' ? 'approved' : 'rejected';
    throw new OtpdError(
      'TEMPLATE_NOT_PENDING',
      `Template ${id} is ${existing.status}; only a pending template can be ${verb}.`,
    );
  });
}

/** Approves a pending template: from now on it can be sent, and its body never changes. */
export async function approveTemplate(ctx: Context, id: string): Promise<ReviewedTemplate> {
  return review(ctx, id, 'approved', null);
}

/** Rejects a pending template with a reason the tenant sees; its slot is freed. */
export async function rejectTemplate(ctx: Context, id: string, reason: string): Promise<ReviewedTemplate> {
  if (reason.trim() === '') throw invalid('reason', 'reason must not be blank.');
  if (reason.length > REJECTION_REASON_MAX) {
    throw invalid('reason', `reason must be at most ${REJECTION_REASON_MAX} characters.`);
  }
  if (!isPlainText(reason, true)) throw invalid('reason', 'reason must not contain control characters.');
  return review(ctx, id, 'rejected', reason);
}
