import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { invalid, OtpdError } from '../core/errors.js';
import { type IdPrefix, newId } from '../core/ids.js';
import { type Page, pageOf } from '../core/pagination.js';
import { checkTemplateBody, isPlainText, normalizeLineBreaks, TEMPLATE_BOUNDS } from '../core/template.js';
import {
  changeTemplateStatus,
  countActiveTemplates,
  findTemplate,
  insertTemplate,
  listTemplateRows,
  lockAccountForTemplates,
  type TemplateStatus,
} from '../store/templates.js';
import type { Tenant } from '../tenancy/keys.js';
import { MAX_ACTIVE_TEMPLATES, type Template, templateNotFound, toTemplate } from './record.js';

/** `tpl_…`; the cast stands until core/ids.ts lists the prefix. */
const TEMPLATE_ID_PREFIX: IdPrefix = 'tpl';

export interface SubmitInput {
  name: string;
  body: string;
  use_case: string;
}

function checkText(field: 'name' | 'use_case', value: string, maxLength: number, lineBreaks: boolean): void {
  if (value.trim() === '') throw invalid(field, `${field} must not be blank.`);
  if (value.length > maxLength) throw invalid(field, `${field} must be at most ${maxLength} characters.`);
  if (!isPlainText(value, lineBreaks)) {
    throw invalid(field, `${field} must not contain control or invisible characters.`);
  }
}

/**
 * Submits a template for review: it starts `pending` and holds one of the
 * account's 20 active slots until it is rejected or deleted.
 */
export async function submitTemplate(ctx: Context, tenant: Tenant, input: SubmitInput): Promise<Template> {
  checkText('name', input.name, TEMPLATE_BOUNDS.name.maxLength, false);
  checkText('use_case', input.use_case, TEMPLATE_BOUNDS.useCase.maxLength, true);
  const body = normalizeLineBreaks(input.body);
  const parsed = checkTemplateBody(body);

  const now = ctx.clock.now();
  return ctx.store.tx(async (trx) => {
    // The account lock (PostgreSQL) or the write lock (SQLite) serialises
    // submissions per account: the count below cannot be passed by a
    // parallel request, so 21 at once give exactly 20 templates.
    if (!(await lockAccountForTemplates(trx, tenant.account_id, ctx.store.rowLocks))) {
      throw new OtpdError('NOT_FOUND', `No account ${tenant.account_id}.`);
    }
    if ((await countActiveTemplates(trx, tenant.account_id)) >= MAX_ACTIVE_TEMPLATES) {
      throw new OtpdError('TEMPLATE_LIMIT_REACHED');
    }
    const row = await insertTemplate(trx, {
      id: newId(TEMPLATE_ID_PREFIX, now),
      account_id: tenant.account_id,
      app_id: tenant.app.id,
      name: input.name,
      body,
      use_case: input.use_case,
      variables: JSON.stringify(parsed.variables),
      status: 'pending',
      rejection_reason: null,
      created_at: now,
      updated_at: now,
      reviewed_at: null,
      deleted_at: null,
    });
    await recordActivity(trx, now, {
      account_id: tenant.account_id,
      app_id: tenant.app.id,
      type: 'template.submitted',
      key_id: tenant.key_id,
      detail: { template_id: row.id, name: row.name },
    });
    return toTemplate(row);
  });
}

export async function getTemplate(ctx: Context, tenant: Tenant, id: string): Promise<Template> {
  const row = await findTemplate(ctx.store.db, id, tenant.account_id);
  if (!row) throw templateNotFound(id);
  return toTemplate(row);
}

export interface TemplateListFilter {
  status?: TemplateStatus;
  cursor?: string;
  limit: number;
}

/** The account's templates, newest first. */
export async function listTemplates(
  ctx: Context,
  tenant: Tenant,
  f: TemplateListFilter,
): Promise<Page<Template>> {
  const rows = await listTemplateRows(ctx.store.db, {
    accountId: tenant.account_id,
    status: f.status,
    before: f.cursor,
    limit: f.limit,
  });
  return pageOf(rows, f.limit, toTemplate);
}

/**
 * Deletes a template: it can no longer be sent and frees its slot. The row
 * stays (status `deleted`) so that messages and logs still name it.
 * Deleting again answers the deleted template.
 */
export async function deleteTemplate(ctx: Context, tenant: Tenant, id: string): Promise<Template> {
  const now = ctx.clock.now();
  return ctx.store.tx(async (trx) => {
    const deleted = await changeTemplateStatus(
      trx,
      id,
      ['pending', 'approved', 'rejected'],
      { status: 'deleted', deleted_at: now, updated_at: now },
      tenant.account_id,
    );
    if (deleted) {
      await recordActivity(trx, now, {
        account_id: tenant.account_id,
        app_id: tenant.app.id,
        type: 'template.deleted',
        key_id: tenant.key_id,
        detail: { template_id: id },
      });
      return toTemplate(deleted);
    }
    const existing = await findTemplate(trx, id, tenant.account_id);
    if (!existing) throw templateNotFound(id);
    return toTemplate(existing);
  });
}
