import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { foldIntoRollups } from '../../src/retention/rollups.js';

const dir = mkdtempSync(join(tmpdir(), 'otpd-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { OTPD_DATA_DIR: dir, OTPD_SECRET: 'test-secret-0123456789abcdef-0123456789' };

describe('OTPD_RETENTION_DAYS', () => {
  it('defaults to 90 days, and 0 keeps everything', () => {
    expect(loadConfig(env).retentionDays).toBe(90);
    expect(loadConfig({ ...env, OTPD_RETENTION_DAYS: '0' }).retentionDays).toBe(0);
    expect(loadConfig({ ...env, OTPD_RETENTION_DAYS: '400' }).retentionDays).toBe(400);
  });

  it('refuses what is not a whole number of days', () => {
    for (const value of ['-1', '1.5', '90d', ''])
      expect(() => loadConfig({ ...env, OTPD_RETENTION_DAYS: value }), value).toThrow(ConfigError);
  });
});

describe('folding a purged batch into rollups', () => {
  const DAY = 86_400_000;
  const base = { account_id: 'acc_1', app_id: 'app_1' };
  it('groups OTPs by their day, country and channel, messages by theirs, and counts an OTP delivered once', () => {
    const rows = foldIntoRollups(
      [
        { ...base, id: 'otp_a', created_at: 3 * DAY + 5, country: 'NP', channel: 'sms', status: 'verified' },
        {
          ...base,
          id: 'otp_b',
          created_at: 3 * DAY + 9,
          country: null,
          channel: 'sms',
          status: 'max_attempts',
        },
      ],
      [
        {
          ...base,
          otp_id: 'otp_a',
          created_at: 3 * DAY + 5,
          country: 'NP',
          channel: 'sms',
          status: 'delivered',
          segments: 2,
        },
        {
          ...base,
          otp_id: 'otp_a',
          created_at: 4 * DAY + 1,
          country: 'NP',
          channel: 'voice',
          status: 'delivered',
          segments: null,
        },
        {
          ...base,
          otp_id: 'otp_b',
          created_at: 3 * DAY + 9,
          country: null,
          channel: 'sms',
          status: 'failed',
          segments: 1,
        },
      ],
    );
    const zero = {
      ...base,
      otps: 0,
      otps_delivered: 0,
      otps_verified: 0,
      otps_failed: 0,
      otps_expired: 0,
      otps_canceled: 0,
      otps_max_attempts: 0,
      messages: 0,
      messages_delivered: 0,
      messages_failed: 0,
      segments: 0,
    };
    expect(rows).toEqual(
      expect.arrayContaining([
        {
          ...zero,
          day: 3,
          country: 'NP',
          channel: 'sms',
          otps: 1,
          otps_delivered: 1,
          otps_verified: 1,
          messages: 1,
          messages_delivered: 1,
          segments: 2,
        },
        { ...zero, day: 4, country: 'NP', channel: 'voice', messages: 1, messages_delivered: 1 },
        {
          ...zero,
          day: 3,
          country: '',
          channel: 'sms',
          otps: 1,
          otps_max_attempts: 1,
          messages: 1,
          messages_failed: 1,
          segments: 1,
        },
      ]),
    );
    expect(rows).toHaveLength(3);
  });
});
