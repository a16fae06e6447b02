import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import type { TemplateRow, TemplateStatus } from '../store/templates.js';

/** At most this many pending and approved templates per account. */
export const MAX_ACTIVE_TEMPLATES = 20;

/** What the API shows of a template. */
export interface Template {
  template_id: string;
  account_id: string;
  /** The app whose key submitted it. */
  app_id: string;
  name: string;
  body: string;
  use_case: string;
  /** The body's variables, in order of first use. */
  variables: string[];
  status: TemplateStatus;
  /** The operator's reason, for a rejected template. */
  rejection_reason: string | null;
  created_at: string;
  reviewed_at: string | null;
  deleted_at: string | null;
}

export function toTemplate(row: TemplateRow): Template {
  return {
    template_id: row.id,
    account_id: row.account_id,
    app_id: row.app_id,
    name: row.name,
    body: row.body,
    use_case: row.use_case,
    variables: JSON.parse(row.variables) as string[],
    status: row.status as TemplateStatus,
    rejection_reason: row.rejection_reason,
    created_at: iso(row.created_at)!,
    reviewed_at: iso(row.reviewed_at),
    deleted_at: iso(row.deleted_at),
  };
}

export const templateNotFound = (id: string): OtpdError =>
  new OtpdError('TEMPLATE_NOT_FOUND', `No template ${id.length > 64 ? `${id.slice(0, 64)}…` : id}.`, {
    field: 'template_id',
  });
