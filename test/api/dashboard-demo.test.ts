import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../harness.js';
import { type DashboardClient, signedIn } from '../support/dashboard.js';

let h: Harness;
let client: DashboardClient;
let appId: string;
beforeAll(async () => {
  h = await createHarness();
  client = (await signedIn(h)).client;
  appId = (await client.call('POST', '/apps', { name: 'Demo', environment: 'sandbox' })).body.data.id;
});

describe('the playable demo', () => {
  it('sends a sandbox code to the inbox, counts wrong attempts and verifies once', async () => {
    const sent = await client.call('POST', '/demo/send', { app_id: appId, phone: '+9779841600001' });
    expect(sent.status).toBe(201);
    expect(sent.body.data).toMatchObject({
      status: 'pending',
      attempts_remaining: 3,
      phone: '+9779841600001',
    });
    const otpId = sent.body.data.otp_id;
    await h.deliver();
    const inbox = await client.call('GET', '/inbox/messages?phone=%2B9779841600001');
    expect(inbox.body.data.items[0].text).toContain('123456');

    const wrong = await client.call('POST', '/demo/verify', { app_id: appId, otp_id: otpId, code: '000000' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ code: 'INVALID_OTP', attempts_remaining: 2, otp_id: otpId });
    const right = await client.call('POST', '/demo/verify', { app_id: appId, otp_id: otpId, code: '123456' });
    expect(right.body.data).toMatchObject({ verified: true, otp_id: otpId, status: 'verified' });
    const again = await client.call('POST', '/demo/verify', { app_id: appId, otp_id: otpId, code: '123456' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('OTP_ALREADY_VERIFIED');

    const status = await client.call('GET', `/demo/otps/${otpId}?app_id=${appId}`);
    expect(status.body.data).toMatchObject({ status: 'verified', delivery_status: 'delivered', attempts: 2 });
    const explained = await client.call('GET', `/apps/${appId}/otps/${otpId}`);
    expect(explained.body.data.timeline.at(-1).type).toBe('otp.verified');
  });

  it('holds resends to the cooldown and ends the code at the last wrong attempt', async () => {
    const sent = await client.call('POST', '/demo/send', { app_id: appId, phone: '+9779841600002' });
    const otpId = sent.body.data.otp_id;
    const early = await client.call('POST', '/demo/resend', { app_id: appId, otp_id: otpId });
    expect(early.status).toBe(429);
    expect(early.body.error).toMatchObject({
      code: 'RATE_LIMIT_EXCEEDED',
      scope: 'resend_cooldown',
      retry_after: 60,
    });
    h.clock.advance(60);
    const resent = await client.call('POST', '/demo/resend', { app_id: appId, otp_id: otpId });
    expect(resent.body.data.send_count).toBe(2);
    for (const remaining of [2, 1]) {
      const res = await client.call('POST', '/demo/verify', { app_id: appId, otp_id: otpId, code: '999999' });
      expect(res.body.error.attempts_remaining).toBe(remaining);
    }
    const last = await client.call('POST', '/demo/verify', { app_id: appId, otp_id: otpId, code: '999999' });
    expect(last.body.error).toMatchObject({ code: 'INVALID_OTP', attempts_remaining: 0 });
    const after = await client.call('POST', '/demo/verify', { app_id: appId, otp_id: otpId, code: '123456' });
    expect(after.body.error.code).toBe('MAX_ATTEMPTS_EXCEEDED');
  });

  it('tells an expired code apart', async () => {
    const sent = await client.call('POST', '/demo/send', { app_id: appId, phone: '+9779841600003' });
    h.clock.advance(301);
    const late = await client.call('POST', '/demo/verify', {
      app_id: appId,
      otp_id: sent.body.data.otp_id,
      code: '123456',
    });
    expect(late.body.error.code).toBe('OTP_EXPIRED');
  });

  it('runs on sandbox apps of the account only', async () => {
    const other = (await signedIn(h)).client;
    const theirApp = (await other.call('POST', '/apps', { name: 'Theirs', environment: 'sandbox' })).body.data
      .id;
    const foreign = await client.call('POST', '/demo/send', { app_id: theirApp, phone: '+9779841600004' });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('NOT_FOUND');

    const req = await client.call('POST', '/live-mode', {
      use_case: 'Login codes for us',
      expected_volume: '10',
    });
    await h.admin('POST', `/admin/v1/live-requests/${req.body.data.id}/approve`);
    const live = (await client.call('POST', '/apps', { name: 'Live', environment: 'live' })).body.data.id;
    const refused = await client.call('POST', '/demo/send', { app_id: live, phone: '+9779841600005' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'app_id' });
  });
});
