import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { ConfigError, webhookRetrySchedule } from '../../src/config.js';
import { webhookTypeOf } from '../../src/webhooks/events.js';
import { generateWebhookSecret, signatureHeaders } from '../../src/webhooks/signing.js';
import { checkWebhookTarget, refusedAddress } from '../../src/webhooks/ssrf.js';
import { parseRetryAfter } from '../../src/webhooks/transport.js';

describe('webhook target addresses', () => {
  const never = [
    '0.0.0.0',
    '0.1.2.3',
    '169.254.169.254',
    '169.254.0.1',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    '::',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    'fd00:ec2::254',
    '::ffff:169.254.169.254',
    '::ffff:0.0.0.0',
  ];
  const privateOnes = [
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '100.64.0.1',
    '100.127.255.255',
    '192.0.0.8',
    '198.18.0.1',
    '192.0.2.1',
    '::1',
    '0:0:0:0:0:0:0:1',
    'fc00::1',
    'fd12:3456::1',
    'fec0::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.1.2.3',
    '::127.0.0.1',
    '64:ff9b::a00:1',
    '2002:7f00:1::1',
    '2001:db8::1',
    '2001:0:4136:e378::1',
  ];
  const publicOnes = [
    '1.1.1.1',
    '8.8.8.8',
    '93.184.216.34',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '192.169.0.1',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ];

  it.each(never)('never allows %s', (ip) => {
    expect(refusedAddress(ip, false)).not.toBeNull();
    expect(refusedAddress(ip, true)).not.toBeNull();
  });

  it.each(privateOnes)('refuses %s unless private targets are allowed', (ip) => {
    expect(refusedAddress(ip, false)).not.toBeNull();
    expect(refusedAddress(ip, true)).toBeNull();
  });

  it.each(publicOnes)('allows the public address %s', (ip) => {
    expect(refusedAddress(ip, false)).toBeNull();
  });

  it('names the kind of address', () => {
    expect(refusedAddress('127.0.0.1', false)).toBe('127.0.0.1 is a loopback address');
    expect(refusedAddress('169.254.169.254', false)).toContain('metadata');
    expect(refusedAddress('::ffff:127.0.0.1', false)).toBe(
      '::ffff:127.0.0.1 is an IPv4-mapped form of loopback address',
    );
    expect(refusedAddress('100.64.1.1', false)).toContain('carrier-grade NAT');
  });

  it('checks the URL form before any lookup', async () => {
    const refuse = (url: string) => expect(checkWebhookTarget(new URL(url), true)).rejects.toThrow();
    await refuse('ftp://example.com/');
    await refuse('http://user:secret@example.com/');
    await refuse('http://:pw@example.com/');
    await expect(checkWebhookTarget(new URL('http://127.0.0.1:9/'), true)).resolves.toBeUndefined();
    await expect(checkWebhookTarget(new URL('http://127.0.0.1:9/'), false)).rejects.toThrow(/loopback/);
    await expect(checkWebhookTarget(new URL('http://localhost/'), false)).rejects.toThrow(
      /localhost resolves to/,
    );
  });
});

describe('webhook signatures', () => {
  it('makes secrets of 24 random bytes after whsec_', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(a).not.toBe(generateWebhookSecret());
  });

  it('signs as Standard Webhooks and as X-Otpd-Signature, once per secret', () => {
    const newer = generateWebhookSecret();
    const older = generateWebhookSecret();
    const body = JSON.stringify({ id: 'evt_1', type: 'otp.sent', data: { phone: '+9779800000001' } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = signatureHeaders('evt_1', timestamp, body, [newer, older]);
    expect(headers['webhook-id']).toBe('evt_1');
    expect(headers['webhook-timestamp']).toBe(String(timestamp));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]{44} v1,[A-Za-z0-9+/=]{44}$/);
    expect(new Webhook(newer).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(older).verify(body, headers)).toEqual(JSON.parse(body));
    const hex = (secret: string) => createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    expect(headers['x-otpd-signature']).toBe(`t=${timestamp},v1=${hex(newer)},v1=${hex(older)}`);
  });
});

describe('webhook event types', () => {
  it.each([
    ['message.sent', 'otp', 'otp.sent'],
    ['message.sent', 'sms', 'sms.sent'],
    ['message.delivered', 'otp', 'otp.delivered'],
    ['message.delivered', 'sms', 'sms.delivered'],
    ['message.failed', 'sms', 'sms.failed'],
    ['message.failed', 'otp', null],
    ['otp.failed', undefined, 'otp.failed'],
    ['otp.verified', undefined, 'otp.verified'],
    ['otp.expired', undefined, 'otp.expired'],
    ['balance.low', undefined, 'balance.low'],
    ['otp.created', undefined, null],
    ['otp.canceled', undefined, null],
    ['webhook.disabled', undefined, null],
  ])('maps %s (kind %s) to %s', (type, kind, expected) => {
    expect(webhookTypeOf({ type, detail: kind ? { kind } : {} })).toBe(expected);
  });
});

describe('Retry-After', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 13:00:00 GMT', now)).toBe(3_600_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['60', '5'], now)).toBe(60_000);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('', now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });
});

describe('OTPD_WEBHOOK_RETRY_SCHEDULE', () => {
  it('reads comma-separated seconds, or nothing', () => {
    expect(webhookRetrySchedule({})).toBeUndefined();
    expect(webhookRetrySchedule({ OTPD_WEBHOOK_RETRY_SCHEDULE: '1, 2,5' })).toEqual([1, 2, 5]);
  });
  it('refuses anything else', () => {
    for (const value of ['1,x', '1.5', '-1', '1,,2']) {
      expect(() => webhookRetrySchedule({ OTPD_WEBHOOK_RETRY_SCHEDULE: value })).toThrow(ConfigError);
    }
  });
});
