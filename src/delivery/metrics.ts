import { Counter } from 'prom-client';

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
};
