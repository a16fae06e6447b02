/** Timestamps are integer milliseconds since the epoch in both dialects. */
type Ms = number;

export interface TemplateTable {
  /** `tpl_…` */
  id: string;
  account_id: string;
  /** The app whose key submitted it (its log shows the review). */
  app_id: string;
  name: string;
  /** The text with `{{variable}}` placeholders; never changes once stored. */
  body: string;
  use_case: string;
  /** JSON array of the body's variable names, in order of first use. */
  variables: string;
  /** `pending | approved | rejected | deleted` */
  status: string;
  rejection_reason: string | null;
  created_at: Ms;
  updated_at: Ms;
  /** When an operator approved or rejected it. */
  reviewed_at: Ms | null;
  deleted_at: Ms | null;
}

/** Tables of 0003_templates (src/store/migrations/templates.ts). */
export interface TemplatesTables {
  templates: TemplateTable;
}
