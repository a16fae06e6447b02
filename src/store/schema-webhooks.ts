/** Tables of 0004_webhooks (src/store/migrations/webhooks.ts). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the migration's owner
export interface WebhooksTables {}
