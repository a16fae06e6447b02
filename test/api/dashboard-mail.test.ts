import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardConfig, dashboardConfig } from '../../src/config.js';
import { buildServer } from '../../src/http/server.js';
import { ADMIN_TOKEN, createHarness, type Harness } from '../harness.js';
import { DashboardClient, mailTo, PASSWORD, uniqueEmail } from '../support/dashboard.js';
import { startSmtpServer } from '../support/dashboard-smtp.js';

let h: Harness;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** A second otpd server on the harness's database, with its own dashboard settings. */
async function serverWith(config: Partial<DashboardConfig>): Promise<FastifyInstance> {
  const server = await buildServer(h.ctx, {
    adminToken: ADMIN_TOKEN,
    dashboard: { ...dashboardConfig({}), ...config },
  });
  await server.ready();
  cleanups.push(() => server.close());
  return server;
}

const waitFor = async (check: () => boolean | Promise<boolean>, ms = 5000) => {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('mail through SMTP', () => {
  it('hands the verification mail to OTPD_SMTP_URL with links to OTPD_PUBLIC_URL, then forgets its body', async () => {
    const smtp = await startSmtpServer();
    cleanups.push(() => smtp.close());
    const server = await serverWith({
      smtpUrl: smtp.url,
      publicUrl: 'https://otp.example.com',
      mailFrom: 'otpd <otp@example.com>',
    });
    const client = new DashboardClient({ ...h, server } as Harness);
    await client.session();
    const email = uniqueEmail('smtp');
    const res = await client.call(
      'POST',
      '/signup',
      { email, password: PASSWORD },
      {
        headers: { host: 'evil.example' },
      },
    );
    expect(res.status).toBe(201);
    await waitFor(() => smtp.mails.length === 1);
    const [mail] = smtp.mails;
    expect(mail!.from).toBe('otp@example.com');
    expect(mail!.to).toEqual([email]);
    expect(mail!.data).toMatch(/Subject: Verify your email for otpd/);
    expect(mail!.data.replace(/=\r\n/g, '')).toMatch(/https:\/\/otp\.example\.com\/verify-email#token=/);
    expect(mail!.data).not.toContain('evil.example');
    await waitFor(async () => (await mailTo(h, email))[0]?.text === null);
    const [stored] = await mailTo(h, email);
    expect(stored).toMatchObject({ status: 'sent', text: null });
  });

  it('records a mail the server refused, without failing the request', async () => {
    const smtp = await startSmtpServer({ failWith: '554 5.7.1 rejected' });
    cleanups.push(() => smtp.close());
    const server = await serverWith({ smtpUrl: smtp.url, publicUrl: 'https://otp.example.com' });
    const client = new DashboardClient({ ...h, server } as Harness);
    await client.session();
    const email = uniqueEmail('bounce');
    expect((await client.call('POST', '/password/forgot', { email })).status).toBe(200);
    const res = await client.call('POST', '/signup', { email, password: PASSWORD });
    expect(res.status).toBe(201);
    await waitFor(async () => (await mailTo(h, email))[0]?.status === 'failed');
    const [stored] = await mailTo(h, email);
    expect(stored!.error).toMatch(/554/);
  });

  it('refuses SMTP without a public URL, and bad settings, at start', () => {
    expect(() => dashboardConfig({ OTPD_SMTP_URL: 'smtp://mail.example.com' })).toThrow(
      /OTPD_PUBLIC_URL is required/,
    );
    expect(() => dashboardConfig({ OTPD_SMTP_URL: 'http://x' })).toThrow(/OTPD_SMTP_URL/);
    expect(() => dashboardConfig({ OTPD_PUBLIC_URL: 'otp.example.com' })).toThrow(/OTPD_PUBLIC_URL/);
    expect(() => dashboardConfig({ OTPD_SIGNUP: 'maybe' })).toThrow(/OTPD_SIGNUP/);
    expect(dashboardConfig({ OTPD_COOKIE_SECURE: 'true' }).secureCookies).toBe(true);
  });
});

describe('closed sign-up and secure cookies', () => {
  it('lets only operators sign up when OTPD_SIGNUP=closed', async () => {
    const server = await serverWith({ signup: false });
    const client = new DashboardClient({ ...h, server } as Harness);
    await client.session();
    const refused = await client.call('POST', '/signup', { email: uniqueEmail(), password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('SIGNUP_CLOSED');
    const operator = await client.call('POST', '/signup', {
      email: uniqueEmail('op'),
      password: PASSWORD,
      operator_token: ADMIN_TOKEN,
    });
    expect(operator.status).toBe(201);
  });

  it('marks the cookies Secure behind https', async () => {
    const server = await serverWith({ secureCookies: true });
    const client = new DashboardClient({ ...h, server } as Harness);
    await client.session();
    expect(client.lastSetCookie.find((c) => c.startsWith('otpd_csrf='))).toMatch(/Secure/);
  });
});
