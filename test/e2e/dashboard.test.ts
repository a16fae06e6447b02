import { Secret, TOTP } from 'otpauth';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, freshDatabaseUrl, http, type ServerProcess, startProcess } from '../harness.js';
import { launchBrowser, openPage, screenshot } from '../support/browser.js';

/**
 * The dashboard in Debian's Chromium against a real otpd process (its
 * delivery worker running): a new tenant's whole first day, and the demo.
 */
let otpd: ServerProcess;
let browser: Browser;
beforeAll(async () => {
  otpd = await startProcess(await freshDatabaseUrl());
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await otpd?.stop();
});

const EMAIL = `owner-${Date.now().toString(36)}@shop.example`;
const DEMO_EMAIL = `demo-${Date.now().toString(36)}@shop.example`;
const PASSWORD = 'a long shop password';
const PHONE = '+9779841234567';

/** The TOTP code of the next 30-second step (a step is accepted once, so a login needs a fresh one). */
async function freshTotp(secret: string, usedStep: number): Promise<{ code: string; step: number }> {
  let step = Math.floor(Date.now() / 30_000);
  if (step <= usedStep) {
    await new Promise((r) => setTimeout(r, (usedStep + 1) * 30_000 - Date.now() + 200));
    step = Math.floor(Date.now() / 30_000);
  }
  return { code: TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() }), step };
}

/** Console noise that is not a fault: the browser logs every 4xx answer the page expected. */
const faults = (problems: string[]) => problems.filter((p) => !p.includes('Failed to load resource'));

describe('the dashboard, in a browser', () => {
  it('signs up, verifies the email, turns on 2FA, logs in with TOTP, makes an app and a key, and follows a sandbox OTP', async () => {
    const { page, problems, context } = await openPage(browser);

    // Sign up.
    await page.goto(`${otpd.url}/`);
    await page.waitForURL(/\/login/);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Organisation').fill('Shop');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await screenshot(page, '01-signup');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('We sent a verification link').waitFor();

    // No SMTP: the mail waits on the inbox page, for the operator token.
    await page.getByRole('link', { name: 'inbox' }).click();
    await page.getByLabel('API key or operator token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('tab', { name: 'Mail' }).click();
    await page.getByText('Verify your email for otpd').waitFor();
    await screenshot(page, '02-inbox-mail');
    await page.getByRole('link', { name: /\/verify-email#token=/ }).click();
    await page.getByText('is verified').waitFor();
    await page.evaluate('sessionStorage.clear()');

    // Log in and turn on two-factor login.
    await page.getByRole('link', { name: 'Log in' }).click();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Shop' }).waitFor();
    await screenshot(page, '03-overview');
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Turn on two-factor login' }).click();
    const secret = (await page.locator('.secret code').first().textContent())!;
    const enableCode = await freshTotp(secret, 0);
    await page.getByLabel('Code', { exact: true }).fill(enableCode.code);
    await page.getByRole('button', { name: 'Confirm and turn on' }).click();
    await page.getByText('Save these recovery codes now').waitFor();
    expect(await page.locator('.codes li').count()).toBe(10);
    await screenshot(page, '04-two-factor');
    await page.getByRole('button', { name: 'I have saved them' }).click();

    // Log out; log in again with the password and a TOTP code.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Two-factor login' }).waitFor();
    await screenshot(page, '05-login-totp');
    const loginCode = await freshTotp(secret, enableCode.step);
    await page.getByLabel('Code from your authenticator app').fill(loginCode.code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Shop' }).waitFor();
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'otpd_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    // An app and a key.
    await page.getByRole('link', { name: 'Apps & keys' }).click();
    await page.getByLabel('Name').fill('Checkout');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('heading', { name: /Checkout/ }).waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Copy your new key now').waitFor();
    const key = (await page.locator('.alert .secret code').textContent())!;
    expect(key).toMatch(/^otpd_test_/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(key);
    await screenshot(page, '06-app-key');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.locator('body').textContent()).not.toContain(key);

    // A sandbox OTP sent with the key arrives live in the inbox.
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.getByText('Live: new messages appear').waitFor();
    const sent = await http(`${otpd.url}/v1/otp/send`, 'POST', {
      key,
      body: { phone: PHONE, reference: 'order-1' },
    });
    expect(sent.status).toBe(201);
    const bubble = page.locator('.bubble', { hasText: 'verification code is' });
    await bubble.waitFor();
    expect(await page.getByRole('heading', { name: PHONE }).count()).toBe(1);
    const code = (await bubble.textContent())!.match(/code is (\d{6})/)![1]!;
    expect(code).toBe('123456');
    await screenshot(page, '07-inbox-live');

    // Verified with the key; the explorer shows its timeline.
    const verified = await http(`${otpd.url}/v1/otp/verify`, 'POST', {
      key,
      body: { otp_id: sent.body.data.otp_id, code },
    });
    expect(verified.body.data.verified).toBe(true);
    await page.getByRole('link', { name: 'OTP explorer' }).click();
    const row = page.locator('tbody tr', { hasText: PHONE });
    await row.waitFor();
    expect(await row.textContent()).toContain('verified');
    await row.getByRole('button').click();
    const timeline = page.locator('.timeline');
    await timeline.getByText('Verified').waitFor();
    expect(await timeline.textContent()).toContain('Delivered by inbox');
    expect(await page.locator('#otp-detail-title').count()).toBe(1);
    await screenshot(page, '08-explorer');

    expect(faults(problems)).toEqual([]);
    await context.close();
  }, 180_000);

  it('plays the demo: the code reaches the drawn phone, a wrong code says NO, the right one YES', async () => {
    const { page, problems, context } = await openPage(browser);
    // Log in with a recovery-free account: a second tenant without two-factor login.
    const email = DEMO_EMAIL;
    await page.goto(`${otpd.url}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('We sent a verification link').waitFor();
    const mail = await fetch(`${otpd.url}/admin/v1/mail?to=${encodeURIComponent(email)}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }).then((r) => r.json() as Promise<{ data: { items: { text: string }[] } }>);
    const link = mail.data.items[0]!.text.match(/https?:\/\/\S+/)![0];
    await page.goto(link);
    await page.getByText('is verified').waitFor();
    await page.goto(`${otpd.url}/login?next=/demo`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Verification demo' }).waitFor();

    await page.getByRole('button', { name: 'Create a sandbox app' }).click();
    await page.getByLabel('Mobile number').fill('+9779841000777');
    await page.getByRole('button', { name: 'Request code' }).click();
    const sms = page.getByTestId('sms');
    await sms.waitFor();
    expect(await sms.textContent()).toContain('123456');
    expect(await page.getByText(/Expires in \d:\d\d/).count()).toBe(1);
    expect(await page.getByRole('button', { name: /Resend in \d+ s/ }).isDisabled()).toBe(true);

    await page.getByLabel('Code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('verdict').getByText('VERIFIED: NO').waitFor();
    await page.getByText('2 attempt(s) left').waitFor();
    await screenshot(page, '09-demo-wrong');
    await page.getByLabel('Code').fill('123456');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('verdict').getByText('VERIFIED: YES').waitFor();
    await screenshot(page, '10-demo-verified');

    // The same pages on a phone screen.
    await page.setViewportSize({ width: 375, height: 740 });
    await screenshot(page, '11-demo-phone');
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'shop.example' }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, '12-overview-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    // The verified demo code shows in the usage chart.
    await page.goto(`${otpd.url}/usage`);
    await page.getByTestId('conversion').getByText('100.0 %').waitFor();
    expect(await page.locator('svg.chart rect.bar-verified').count()).toBe(1);
    await screenshot(page, '13-usage');

    // A template, for the operator to review.
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.getByLabel('Name').fill('Shipped');
    await page.getByLabel('Text').fill('Your order {{order_id}} has shipped.');
    await page.getByLabel('Use case').fill('Shipping notices');
    await page.getByRole('button', { name: 'Submit for review' }).click();
    await page.locator('.badge', { hasText: 'pending' }).waitFor();
    await screenshot(page, '14-templates');

    expect(faults(problems)).toEqual([]);
    await context.close();
  }, 120_000);

  it('lets an operator approve a template and top up an account in the console', async () => {
    const { page, problems, context } = await openPage(browser);
    const email = `operator-${Date.now().toString(36)}@otpd.example`;
    await page.goto(`${otpd.url}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('I run this otpd').check();
    await page.getByLabel('Operator token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('We sent a verification link').waitFor();
    const mail = await fetch(`${otpd.url}/admin/v1/mail?to=${encodeURIComponent(email)}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }).then((r) => r.json() as Promise<{ data: { items: { text: string }[] } }>);
    await page.goto(mail.data.items[0]!.text.match(/https?:\/\/\S+/)![0]);
    await page.getByText('is verified').waitFor();
    await page.goto(`${otpd.url}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Console' }).waitFor();
    await page.getByRole('heading', { name: 'Providers' }).waitFor();
    await screenshot(page, '15-console');

    await page.getByRole('button', { name: 'Approve Shipped' }).click();
    await page.locator('#templates').getByText('Nothing waits.').waitFor();

    const row = page.locator('tbody tr', { hasText: DEMO_EMAIL });
    await row.getByRole('button', { name: /Top up/ }).click();
    await page.getByLabel(/Top up .* \(USD\)/).fill('5');
    await page.getByLabel('Payment reference').fill('bank-transfer-1');
    await page.getByRole('button', { name: 'Add funds' }).click();
    await page.getByText('5.00 USD added').waitFor();
    expect(await row.textContent()).toContain('5.00 USD');
    await screenshot(page, '16-console-topup');
    expect(faults(problems)).toEqual([]);
    await context.close();

    // The tenant sees both.
    const tenant = await openPage(browser);
    await tenant.page.goto(`${otpd.url}/login?next=/billing`);
    await tenant.page.getByLabel('Email').fill(DEMO_EMAIL);
    await tenant.page.getByLabel('Password').fill(PASSWORD);
    await tenant.page.getByRole('button', { name: 'Log in' }).click();
    await tenant.page.getByTestId('balance').getByText('5.00 USD').waitFor();
    await tenant.page.getByRole('link', { name: 'Templates' }).click();
    await tenant.page.locator('.badge', { hasText: 'approved' }).waitFor();
    await tenant.context.close();
  }, 120_000);

  it('is usable from the keyboard: the title takes the focus, a skip link leads, every field is labelled', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(`${otpd.url}/login`);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    // Each page's title takes the focus, so a screen reader announces the page.
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('H1');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.type')).toBe('email');
    await page.keyboard.type(EMAIL);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Two-factor login' }).waitFor();
    const firstFocusable = await page.evaluate(
      "document.querySelector('a[href], button, input, select, textarea')?.textContent",
    );
    expect(firstFocusable).toBe('Skip to content');
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, textarea')].filter(
      (el) => !(el.id && document.querySelector('label[for="' + el.id + '"]')) && !el.getAttribute('aria-label'),
    ).length`);
    expect(unlabelled).toBe(0);
    await context.close();
  });
});
