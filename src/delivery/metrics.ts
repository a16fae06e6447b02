import { Counter, Gauge, Histogram } from 'prom-client';

export const deliveryMetrics = {
  sent: new Counter({
    name: 'otpd_messages_sent_total',
    help: 'Messages a provider accepted.',
    labelNames: ['provider', 'channel'] as const,
  }),
  delivered: new Counter({
    name: 'otpd_messages_delivered_total',
    help: 'Messages a provider reported delivered.',
    labelNames: ['provider', 'channel'] as const,
  }),
  failed: new Counter({
    name: 'otpd_message_failures_total',
    help: 'Failed delivery tries, by what happens next (retry, next provider, unknown, final).',
    labelNames: ['provider', 'channel', 'outcome'] as const,
  }),
  submitLatency: new Histogram({
    name: 'otpd_message_submit_seconds',
    help: 'Time from handing a message to a provider to its answer.',
    labelNames: ['provider', 'channel'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  receiptLatency: new Histogram({
    name: 'otpd_message_receipt_seconds',
    help: 'Time from a message being sent to its delivery receipt.',
    labelNames: ['provider', 'channel', 'status'] as const,
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
  }),
  receipts: new Counter({
    name: 'otpd_receipts_total',
    help: 'Receipts and status callbacks received, by whether they matched a message.',
    labelNames: ['provider', 'status', 'matched'] as const,
  }),
  outboxDepth: new Gauge({
    name: 'otpd_outbox_depth',
    help: 'Messages queued, in flight or awaiting a receipt, as last counted by this process.',
  }),
  oldestDue: new Gauge({
    name: 'otpd_outbox_oldest_due_seconds',
    help: 'How long the oldest due message has waited, as last measured by this process.',
  }),
};
