import { Counter, Histogram } from 'prom-client';

export const webhookMetrics = {
  attempts: new Counter({
    name: 'otpd_webhook_attempts_total',
    help: 'Webhook delivery attempts, by what came of them (succeeded, retry, failed, gone).',
    labelNames: ['outcome'] as const,
  }),
  latency: new Histogram({
    name: 'otpd_webhook_latency_seconds',
    help: 'Time from sending a webhook to the receiver’s answer (or the failure).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
};
