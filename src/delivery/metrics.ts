import { Counter, Gauge } from 'prom-client';

export const deliveryMetrics = {
  sent: new Counter({
    name: 'otpd_messages_sent_total',
    help: 'Messages handed to a provider.',
    labelNames: ['provider', 'channel'] as const,
  }),
  failed: new Counter({
    name: 'otpd_message_failures_total',
    help: 'Failed delivery tries.',
    labelNames: ['provider', 'channel', 'retryable'] as const,
  }),
  outboxDepth: new Gauge({
    name: 'otpd_outbox_depth',
    help: 'Messages queued or in flight, as last counted by this process.',
  }),
};
