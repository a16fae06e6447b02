import { Counter } from 'prom-client';

export const otpMetrics = {
  sent: new Counter({
    name: 'otpd_otp_sends_total',
    help: 'OTP sends and resends accepted.',
    labelNames: ['channel', 'environment', 'kind'] as const,
  }),
  verifications: new Counter({
    name: 'otpd_otp_verifications_total',
    help: 'Verification attempts by outcome.',
    labelNames: ['outcome'] as const,
  }),
};
