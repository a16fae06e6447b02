import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { sweepExpiredOtps } from '../../src/otp/expiry.js';
import { purgeOldRows } from '../../src/retention/purge.js';
import { createHarness, type Harness, type Response } from '../harness.js';

/**
 * The generic OTP API's `/otp/reports` across a retention purge: OTPs sent
 * over three days through the compat API on two channels and ended every way
 * the API ends them (verified, canceled, max_attempts, expired), then, ten
 * days later, purged. The report over whole days and over its default period
 * answers the same before and after, though the OTP table no longer holds
 * them: the purged OTPs count through `report_rollups`.
 */
let h: Harness;
const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);

interface Tenant {
  key: string;
  appid: string;
}
let busy: Tenant;
let other: Tenant;

let phones = 0;
const nextPhone = () => `+55119${String(++phones).padStart(8, '0')}`;
const headersOf = (key: string) => ({ 'x-api-key': key });
const post = (key: string, path: string, body: unknown) =>
  h.call('POST', `/compat/otpapi/otp/${path}`, { body, headers: headersOf(key) });
const get = (key: string, path: string, query: Record<string, string> = {}) => {
  const qs = new URLSearchParams(query);
  return h.call('GET', `/compat/otpapi/otp/${path}${qs.size ? `?${qs}` : ''}`, { headers: headersOf(key) });
};

function expectOk(res: Response) {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.success).toBe(true);
  return res.body.data;
}

async function send(t: Tenant, channel: string) {
  const recipient = nextPhone();
  const sent = expectOk(await post(t.key, 'send', { appid: t.appid, recipient, channel, from: 'YourApp' }));
  return { recipient, id: sent.verification_id as string };
}

/** One OTP ended as `end` on `channel` (sandbox: the code is 123456). */
async function ended(t: Tenant, channel: string, end: 'verified' | 'canceled' | 'max_attempts' | 'expired') {
  const { recipient, id } = await send(t, channel);
  if (end === 'verified') {
    expectOk(
      await post(t.key, 'verify', { appid: t.appid, recipient, otp_code: '123456', verification_id: id }),
    );
  } else if (end === 'canceled') {
    expect((await h.call('POST', `/v1/otp/${id}/cancel`, { key: t.key })).status).toBe(200);
  } else if (end === 'max_attempts') {
    for (let i = 0; i < 3; i++) {
      const res = await post(t.key, 'verify', {
        appid: t.appid,
        recipient,
        otp_code: '000000',
        verification_id: id,
      });
      expect(res.body.success).toBe(false);
    }
  }
  // 'expired': left pending; the sweep ends it once its time runs out.
}

const WIDE = { from: new Date(START - 5 * DAY).toISOString(), to: new Date(START + 10 * DAY).toISOString() };
/** Periods: whole days (the rule of the rollups) and the default, the last 30 days. */
const PERIODS: (Record<string, string> | 'default')[] = [
  { from: new Date(START).toISOString(), to: new Date(START + 3 * DAY).toISOString() },
  { from: new Date(START + DAY).toISOString(), to: new Date(START + 2 * DAY).toISOString() },
  WIDE,
  'default',
];

async function reports(t: Tenant) {
  const out = [];
  for (const period of PERIODS) {
    const report = expectOk(await get(t.key, 'reports', period === 'default' ? {} : period));
    // The default period moves with the clock: compare its counts only.
    out.push(period === 'default' ? { ...report, from: undefined, to: undefined } : report);
  }
  return out;
}

const countOtps = async (appId: string) =>
  Number(
    (
      await h.ctx.store.db
        .selectFrom('otps')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('app_id', '=', appId)
        .executeTakeFirstOrThrow()
    ).n,
  );

beforeAll(async () => {
  h = await createHarness({ clock: new ManualClock(START + 3_600_000) });
  const a = await h.tenant({ resend_cooldown: 0 });
  busy = { key: a.key, appid: a.app.id };
  const b = await h.tenant();
  other = { key: b.key, appid: b.app.id };
});

describe('the compat report across a retention purge', () => {
  let before: unknown[];
  let otherBefore: unknown[];

  it('counts OTPs of three days by status and channel', async () => {
    const ends = ['verified', 'verified', 'canceled', 'max_attempts', 'expired'] as const;
    for (let day = 0; day < 3; day++) {
      for (const [i, end] of ends.entries()) {
        await ended(busy, i % 2 === 0 ? 'sms' : 'whatsapp', end);
        if (day === 1) await ended(busy, 'voice', end);
      }
      await ended(other, 'sms', 'verified');
      await h.deliver();
      h.clock.advance(DAY / 1000);
    }
    await sweepExpiredOtps(h.ctx);
    before = await reports(busy);
    otherBefore = await reports(other);
    expect(before[0]).toEqual({
      appid: busy.appid,
      from: new Date(START).toISOString(),
      to: new Date(START + 3 * DAY).toISOString(),
      total: 20,
      by_status: { pending: 0, verified: 8, expired: 4, canceled: 4, max_attempts: 4, failed: 0 },
      by_channel: { sms: 9, whatsapp: 6, voice: 5, rcs: 0 },
      verification_rate: 0.4,
    });
    expect(before[1]).toMatchObject({ total: 10, by_channel: { sms: 3, whatsapp: 2, voice: 5, rcs: 0 } });
    expect(before[2]).toEqual({ ...(before[0] as object), ...WIDE });
    expect(before[3]).toMatchObject({ total: 20 });
  });

  it('answers the same once the OTPs are purged', async () => {
    // A pending OTP of today stays and counts in the default period both times.
    h.clock.advance((10 * DAY) / 1000);
    await send(busy, 'sms');
    h.clock.advance(1); // into the default period [now − 30 days, now)
    const todayBefore = expectOk(await get(busy.key, 'reports'));
    expect(todayBefore.total).toBe(21);

    expect(await countOtps(busy.appid)).toBe(21);
    expect(await purgeOldRows(h.ctx, { olderThanMs: 5 * DAY, pauseMs: 0 })).toBeGreaterThan(20);
    // Only today's pending OTP is left: the figures come from the rollups.
    expect(await countOtps(busy.appid)).toBe(1);
    expect(await countOtps(other.appid)).toBe(0);
    const rollups = await h.ctx.store.db
      .selectFrom('report_rollups')
      .select('app_id')
      .where('app_id', '=', busy.appid)
      .execute();
    expect(rollups.length).toBeGreaterThan(0);

    const after = await reports(busy);
    expect(after.slice(0, 3)).toEqual(before.slice(0, 3));
    expect(after[3]).toEqual({
      ...(before[3] as object),
      total: 21,
      by_status: { ...(before[3] as { by_status: object }).by_status, pending: 1 },
      by_channel: { sms: 10, whatsapp: 6, voice: 5, rcs: 0 },
      verification_rate: Math.round((8 / 21) * 10_000) / 10_000,
    });
    expect(expectOk(await get(busy.key, 'reports'))).toEqual(todayBefore);
    // Another app's rollups do not count here, nor these there.
    expect(await reports(other)).toEqual(otherBefore);
    expect((otherBefore[0] as { total: number }).total).toBe(3);

    // A purge that finds nothing more changes nothing.
    await purgeOldRows(h.ctx, { olderThanMs: 5 * DAY, pauseMs: 0 });
    expect(await reports(busy)).toEqual(after);
  });
});
