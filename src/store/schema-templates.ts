/** Tables of 0003_templates (src/store/migrations/templates.ts). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the migration's owner
export interface TemplatesTables {}
