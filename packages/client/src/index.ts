/** @otpd/client: filled in by issue 9. */
export const VERSION = '0.1.0';
