import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createHarness, type Harness } from '../harness.js';
import {
  DashboardClient,
  linkToken,
  mailTo,
  PASSWORD,
  signedIn,
  totpCode,
  uniqueEmail,
} from '../support/dashboard.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

describe('sign-up and email verification', () => {
  it('signs up, refuses login until the mailed link is used, then logs in with httpOnly SameSite cookies', async () => {
    const email = uniqueEmail('signup');
    const client = new DashboardClient(h);
    const anon = await client.session();
    expect(anon.body.data).toMatchObject({ user: null, second_factor_required: false });
    expect(client.cookies.get('otpd_csrf')).toBe(anon.body.data.csrf_token);

    const signup = await client.call('POST', '/signup', {
      email: email.toUpperCase(),
      password: PASSWORD,
      name: 'Acme',
    });
    expect(signup.status).toBe(201);
    expect(signup.body.data).toEqual({ email });

    const [mail] = await mailTo(h, email);
    expect(mail!.subject).toMatch(/Verify your email/);
    expect(mail!.text).toMatch(/http:\/\/localhost(:\d+)?\/verify-email#token=/);

    const early = await client.call('POST', '/login', { email, password: PASSWORD });
    expect(early.status).toBe(403);
    expect(early.body.error.code).toBe('EMAIL_NOT_VERIFIED');

    const token = await linkToken(h, email, 'verify-email');
    const verified = await client.call('POST', '/verify-email', { token });
    expect(verified.status).toBe(200);
    expect(verified.body.data).toMatchObject({
      email,
      role: 'tenant',
      email_verified: true,
      two_factor: false,
    });
    const again = await client.call('POST', '/verify-email', { token });
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('INVALID_LINK');

    const login = await client.call('POST', '/login', { email, password: PASSWORD });
    expect(login.status).toBe(200);
    expect(login.body.data.user).toMatchObject({ email, account_id: expect.stringMatching(/^acc_/) });
    const sessionCookie = client.lastSetCookie.find((c) => c.startsWith('otpd_session='))!;
    expect(sessionCookie).toMatch(/HttpOnly/i);
    expect(sessionCookie).toMatch(/SameSite=Lax/i);
    expect(sessionCookie).toMatch(/Path=\//);
    expect(sessionCookie).not.toMatch(/Secure/);
    const csrfCookie = client.lastSetCookie.find((c) => c.startsWith('otpd_csrf='))!;
    expect(csrfCookie).not.toMatch(/HttpOnly/i);
    expect(login.headers['cache-control']).toBe('no-store');

    const account = await client.call('GET', '/account');
    expect(account.body.data.account).toMatchObject({ name: 'Acme', email });
  });

  it('answers a sign-up with a taken address like any other, and mails its owner instead', async () => {
    const { email, accountId } = await signedIn(h);
    const stranger = new DashboardClient(h);
    await stranger.session();
    const res = await stranger.call('POST', '/signup', { email, password: 'another password 1' });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({ email });
    const [mail] = await mailTo(h, email);
    expect(mail!.subject).toMatch(/Someone tried to sign up/);
    const accounts = await h.admin('GET', '/admin/v1/accounts?limit=100');
    expect(accounts.body.data.items.filter((a: { email: string }) => a.email === email)).toHaveLength(1);
    expect(accounts.body.data.items.some((a: { id: string }) => a.id === accountId)).toBe(true);
  });

  it('creates one login for ten parallel sign-ups with one address', async () => {
    const email = uniqueEmail('race');
    const clients = Array.from({ length: 10 }, (_, i) => new DashboardClient(h, `10.1.0.${i}`));
    await Promise.all(clients.map((c) => c.session()));
    const answers = await Promise.all(
      clients.map((c) => c.call('POST', '/signup', { email, password: PASSWORD, name: 'Race' })),
    );
    // Five mails per address per hour: the rest are refused before any work, alike for any address.
    expect(answers.filter((a) => a.status === 201)).toHaveLength(5);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(5);
    expect(limited[0]!.body.error.scope).toBe('mail_address');
    const accounts = await h.admin('GET', '/admin/v1/accounts?limit=100');
    expect(accounts.body.data.items.filter((a: { email: string }) => a.email === email)).toHaveLength(1);
    const mails = await mailTo(h, email);
    expect(mails.filter((m) => /Verify/.test(m.subject))).toHaveLength(1);
  }, 60_000);

  it('refuses short passwords and malformed addresses with the field', async () => {
    const client = new DashboardClient(h);
    await client.session();
    const short = await client.call('POST', '/signup', { email: uniqueEmail(), password: 'short' });
    expect(short.status).toBe(400);
    expect(short.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'password' });
    const bad = await client.call('POST', '/signup', { email: 'not-an-email', password: PASSWORD });
    expect(bad.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'email' });
    const extra = await client.call('POST', '/signup', {
      email: uniqueEmail(),
      password: PASSWORD,
      role: 'operator',
    });
    expect(extra.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'role' });
  });

  it('resends a verification link only to an unverified address, answering alike for any', async () => {
    const email = uniqueEmail('resend');
    const client = new DashboardClient(h);
    await client.session();
    await client.call('POST', '/signup', { email, password: PASSWORD });
    const first = await linkToken(h, email, 'verify-email');
    const resent = await client.call('POST', '/verify-email/resend', { email });
    expect(resent.status).toBe(200);
    const second = await linkToken(h, email, 'verify-email');
    expect(second).not.toBe(first);
    const unknown = await client.call('POST', '/verify-email/resend', { email: uniqueEmail('nobody') });
    expect(unknown.status).toBe(200);
    expect(unknown.body.data).toEqual({ email: expect.any(String) });
  });

  it('expires verification links after 24 hours', async () => {
    const email = uniqueEmail('late');
    const client = new DashboardClient(h);
    await client.session();
    await client.call('POST', '/signup', { email, password: PASSWORD });
    const token = await linkToken(h, email, 'verify-email');
    h.clock.advance(24 * 3600 + 1);
    const res = await client.call('POST', '/verify-email', { token });
    expect(res.body.error.code).toBe('INVALID_LINK');
  });

  it('lets an operator sign up with the operator token, and refuses a wrong one', async () => {
    const wrong = new DashboardClient(h);
    await wrong.session();
    const refused = await wrong.call('POST', '/signup', {
      email: uniqueEmail('op'),
      password: PASSWORD,
      operator_token: 'not-the-operator-token',
    });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('INVALID_ADMIN_TOKEN');

    const { client } = await signedIn(h, { operatorToken: ADMIN_TOKEN });
    const session = await client.session();
    expect(session.body.data.user).toMatchObject({ role: 'operator', account_id: null });
    const apps = await client.call('GET', '/apps');
    expect(apps.status).toBe(403);
    expect(apps.body.error.code).toBe('FORBIDDEN');
  });
});

describe('login', () => {
  it('answers a wrong password and an unknown address alike', async () => {
    const { email } = await signedIn(h);
    const client = new DashboardClient(h, '10.2.0.1');
    await client.session();
    const wrong = await client.call('POST', '/login', { email, password: 'wrong password!' });
    const unknown = await client.call('POST', '/login', {
      email: uniqueEmail('ghost'),
      password: 'wrong password!',
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error).toEqual({ ...unknown.body.error });
    expect(wrong.body.error.code).toBe('INVALID_CREDENTIALS');
    expect(client.cookies.has('otpd_session')).toBe(false);
  });

  it('limits logins per address to 10 per 15 minutes, with retry_after', async () => {
    const { email } = await signedIn(h);
    const client = new DashboardClient(h, '10.3.0.1');
    await client.session();
    // signedIn's own login was the first of the ten.
    const answers = [];
    for (let i = 0; i < 10; i++)
      answers.push(await client.call('POST', '/login', { email, password: 'wrong password!' }));
    expect(answers.slice(0, 9).every((a) => a.body.error.code === 'INVALID_CREDENTIALS')).toBe(true);
    const limited = answers[9]!;
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({
      code: 'RATE_LIMIT_EXCEEDED',
      scope: 'login_email',
      retry_after: 900,
    });
    expect(limited.headers['retry-after']).toBe('900');
    // Even the right password waits: the limit is checked first.
    const right = await client.call('POST', '/login', { email, password: PASSWORD });
    expect(right.status).toBe(429);
    h.clock.advance(901);
    expect((await client.call('POST', '/login', { email, password: PASSWORD })).status).toBe(200);
  });

  it('counts logins per IP across addresses', async () => {
    const client = new DashboardClient(h, '10.4.0.1');
    await client.session();
    const answers = await Promise.all(
      Array.from({ length: 105 }, () =>
        client.call('POST', '/login', { email: uniqueEmail('spray'), password: 'x' }),
      ),
    );
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(5);
    expect(limited[0]!.body.error.scope).toBe('login_ip');
    h.clock.advance(901);
  }, 60_000);

  it('ends the session at logout; the old cookie is dead', async () => {
    const { client } = await signedIn(h);
    const token = client.cookies.get('otpd_session')!;
    expect((await client.call('GET', '/apps')).status).toBe(200);
    const out = await client.call('POST', '/logout');
    expect(out.status).toBe(200);
    expect(out.body.data.user).toBeNull();
    expect(client.cookies.has('otpd_session')).toBe(false);
    expect((await client.call('GET', '/apps')).body.error.code).toBe('SESSION_REQUIRED');
    client.cookies.set('otpd_session', token);
    const replay = await client.call('GET', '/apps');
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('SESSION_REQUIRED');
  });

  it('ends an idle session after a day', async () => {
    const { client } = await signedIn(h);
    h.clock.advance(24 * 3600 + 1);
    expect((await client.call('GET', '/apps')).body.error.code).toBe('SESSION_REQUIRED');
  });
});

describe('CSRF', () => {
  it('refuses state-changing requests without the token, with a wrong one, or with another session’s', async () => {
    const { client } = await signedIn(h);
    const other = await signedIn(h);
    const missing = await client.call(
      'POST',
      '/apps',
      { name: 'x', environment: 'sandbox' },
      { csrf: false },
    );
    expect(missing.status).toBe(403);
    expect(missing.body.error.code).toBe('CSRF_TOKEN_INVALID');
    const wrong = await client.call(
      'POST',
      '/apps',
      { name: 'x', environment: 'sandbox' },
      { csrf: 'x'.repeat(32) },
    );
    expect(wrong.body.error.code).toBe('CSRF_TOKEN_INVALID');
    const foreign = await client.call(
      'POST',
      '/apps',
      { name: 'x', environment: 'sandbox' },
      { csrf: other.client.cookies.get('otpd_csrf')! },
    );
    expect(foreign.body.error.code).toBe('CSRF_TOKEN_INVALID');
    expect((await client.call('GET', '/apps')).body.data.items).toHaveLength(0);
    const good = await client.call('POST', '/apps', { name: 'x', environment: 'sandbox' });
    expect(good.status).toBe(201);
  });

  it('refuses a login or logout without the token (login CSRF)', async () => {
    const { email, client } = await signedIn(h);
    const stranger = new DashboardClient(h);
    const login = await stranger.call('POST', '/login', { email, password: PASSWORD });
    expect(login.status).toBe(403);
    expect(login.body.error.code).toBe('CSRF_TOKEN_INVALID');
    const logout = await client.call('POST', '/logout', undefined, { csrf: false });
    expect(logout.body.error.code).toBe('CSRF_TOKEN_INVALID');
    expect((await client.call('GET', '/apps')).status).toBe(200);
  });

  it('refuses a form post (text/plain or urlencoded) before reading it', async () => {
    const { client } = await signedIn(h);
    const res = await client.call('POST', '/apps', 'name=x&environment=sandbox', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
  });
});

describe('password reset', () => {
  it('mails a single-use link that sets a new password and ends every session', async () => {
    const { email, client } = await signedIn(h);
    const anon = new DashboardClient(h);
    await anon.session();
    const unknown = await anon.call('POST', '/password/forgot', { email: uniqueEmail('nobody') });
    expect(unknown.status).toBe(200);
    const asked = await anon.call('POST', '/password/forgot', { email });
    expect(asked.status).toBe(200);
    expect(asked.body.data).toEqual(unknown.body.data.email === email ? asked.body.data : { email });
    const token = await linkToken(h, email, 'reset-password');

    const weak = await anon.call('POST', '/password/reset', { token, password: 'short' });
    expect(weak.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'password' });
    const done = await anon.call('POST', '/password/reset', { token, password: 'a brand new password' });
    expect(done.status).toBe(200);
    expect((await mailTo(h, email))[0]!.subject).toMatch(/password was changed/);

    expect((await client.call('GET', '/apps')).body.error.code).toBe('SESSION_REQUIRED');
    const old = await anon.call('POST', '/login', { email, password: PASSWORD });
    expect(old.body.error.code).toBe('INVALID_CREDENTIALS');
    expect((await anon.call('POST', '/login', { email, password: 'a brand new password' })).status).toBe(200);
    const reuse = await anon.call('POST', '/password/reset', { token, password: 'yet another password' });
    expect(reuse.body.error.code).toBe('INVALID_LINK');
  });

  it('lets one of two parallel resets with the same link through', async () => {
    const { email } = await signedIn(h);
    const anon = new DashboardClient(h);
    await anon.session();
    await anon.call('POST', '/password/forgot', { email });
    const token = await linkToken(h, email, 'reset-password');
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        anon.call('POST', '/password/reset', { token, password: `new password ${i}!` }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.body.error?.code === 'INVALID_LINK')).toHaveLength(4);
  });

  it('expires reset links after an hour', async () => {
    const { email } = await signedIn(h);
    const anon = new DashboardClient(h);
    await anon.session();
    await anon.call('POST', '/password/forgot', { email });
    const token = await linkToken(h, email, 'reset-password');
    h.clock.advance(3601);
    const res = await anon.call('POST', '/password/reset', { token, password: 'a brand new password' });
    expect(res.body.error.code).toBe('INVALID_LINK');
  });

  it('changes the password of a logged-in user who knows the current one', async () => {
    const { client, email } = await signedIn(h);
    const wrong = await client.call('POST', '/password/change', {
      current_password: 'not it at all',
      new_password: 'another good password',
    });
    expect(wrong.body.error.code).toBe('INVALID_CREDENTIALS');
    const ok = await client.call('POST', '/password/change', {
      current_password: PASSWORD,
      new_password: 'another good password',
    });
    expect(ok.status).toBe(200);
    expect((await client.call('GET', '/apps')).status).toBe(200);
    const anon = new DashboardClient(h);
    await anon.session();
    expect((await anon.call('POST', '/login', { email, password: 'another good password' })).status).toBe(
      200,
    );
  });
});

/** Turns two-factor login on for a signed-in client; answers the secret and recovery codes. */
async function enable2fa(client: DashboardClient) {
  const setup = await client.call('POST', '/two-factor/setup');
  expect(setup.status).toBe(200);
  const { secret, otpauth_url } = setup.body.data;
  expect(otpauth_url).toMatch(/^otpauth:\/\/totp\/otpd:.+\?.*secret=/);
  const enabled = await client.call('POST', '/two-factor/enable', { code: totpCode(secret, h.clock.now()) });
  expect(enabled.status).toBe(200);
  return { secret, recovery: enabled.body.data.recovery_codes as string[] };
}

async function loginPending(email: string, ip = '127.0.0.1') {
  const client = new DashboardClient(h, ip);
  await client.session();
  const login = await client.call('POST', '/login', { email, password: PASSWORD });
  expect(login.body.data.second_factor_required).toBe(true);
  return client;
}

describe('two-factor login', () => {
  it('enables TOTP with a confirmed code and gives ten recovery codes once', async () => {
    const { client } = await signedIn(h);
    const setup = await client.call('POST', '/two-factor/setup');
    const wrong = await client.call('POST', '/two-factor/enable', { code: '000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('INVALID_SECOND_FACTOR');
    const on = await client.call('POST', '/two-factor/enable', {
      code: totpCode(setup.body.data.secret, h.clock.now()),
    });
    expect(on.body.data.recovery_codes).toHaveLength(10);
    expect(new Set(on.body.data.recovery_codes).size).toBe(10);
    for (const code of on.body.data.recovery_codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    const status = await client.call('GET', '/two-factor');
    expect(status.body.data).toEqual({ enabled: true, recovery_codes_left: 10 });
    const twice = await client.call('POST', '/two-factor/setup');
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('TWO_FACTOR_ALREADY_ENABLED');
    expect((await client.session()).body.data.user.two_factor).toBe(true);
  });

  it('gives a session without its second factor nothing but the way to complete it', async () => {
    const { client: first, email } = await signedIn(h);
    const { secret } = await enable2fa(first);
    h.clock.advance(31);
    const client = await loginPending(email);
    const session = await client.session();
    expect(session.body.data).toMatchObject({ second_factor_required: true, user: { email } });
    for (const [method, url, body] of [
      ['GET', '/apps', undefined],
      ['GET', '/account', undefined],
      ['POST', '/apps', { name: 'x', environment: 'sandbox' }],
      ['POST', '/two-factor/setup', undefined],
      ['POST', '/two-factor/disable', { password: PASSWORD, code: totpCode(secret, h.clock.now()) }],
      ['POST', '/password/change', { current_password: PASSWORD, new_password: 'whatever password' }],
      ['POST', '/live-mode', { use_case: 'a long enough use case', expected_volume: '10/day' }],
    ] as const) {
      const res = await client.call(method, url, body);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error.code).toBe('SECOND_FACTOR_REQUIRED');
    }
    const inbox = await client.call('GET', '/inbox/messages');
    expect(inbox.status).toBe(401);

    const pendingToken = client.cookies.get('otpd_session')!;
    const wrong = await client.call('POST', '/login/second-factor', { code: '000000' });
    expect(wrong.body.error.code).toBe('INVALID_SECOND_FACTOR');
    const done = await client.call('POST', '/login/second-factor', { code: totpCode(secret, h.clock.now()) });
    expect(done.status).toBe(200);
    expect(done.body.data.second_factor_required).toBe(false);
    expect(client.cookies.get('otpd_session')).not.toBe(pendingToken);
    expect((await client.call('GET', '/apps')).status).toBe(200);

    // The pending session's token is worth nothing now.
    const old = new DashboardClient(h);
    old.cookies.set('otpd_session', pendingToken);
    expect((await old.call('GET', '/session')).body.data.user).toBeNull();
  });

  it('accepts each TOTP code once: of parallel logins with one code, one passes', async () => {
    const { client: first, email } = await signedIn(h);
    const { secret } = await enable2fa(first);
    h.clock.advance(31);
    const clients = await Promise.all(
      Array.from({ length: 5 }, (_, i) => loginPending(email, `10.5.0.${i}`)),
    );
    const code = totpCode(secret, h.clock.now());
    const answers = await Promise.all(clients.map((c) => c.call('POST', '/login/second-factor', { code })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.body.error?.code === 'INVALID_SECOND_FACTOR')).toHaveLength(4);
  });

  it('takes each recovery code once, also in parallel', async () => {
    const { client: first, email } = await signedIn(h);
    const { recovery } = await enable2fa(first);
    const clients = await Promise.all(
      Array.from({ length: 4 }, (_, i) => loginPending(email, `10.6.0.${i}`)),
    );
    const answers = await Promise.all(
      clients.map((c) =>
        c.call('POST', '/login/second-factor', { recovery_code: recovery[0]!.toUpperCase() }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    const winner = clients[answers.findIndex((a) => a.status === 200)]!;
    expect((await winner.call('GET', '/two-factor')).body.data.recovery_codes_left).toBe(9);
    const later = await loginPending(email, '10.6.1.1');
    const reused = await later.call('POST', '/login/second-factor', { recovery_code: recovery[0] });
    expect(reused.body.error.code).toBe('INVALID_SECOND_FACTOR');
    expect((await later.call('POST', '/login/second-factor', { recovery_code: recovery[1] })).status).toBe(
      200,
    );
  });

  it('limits second-factor guesses to 10 per 15 minutes', async () => {
    const { client: first, email } = await signedIn(h);
    const { secret } = await enable2fa(first);
    h.clock.advance(31);
    const client = await loginPending(email, '10.7.0.1');
    for (let i = 0; i < 10; i++) await client.call('POST', '/login/second-factor', { code: '000000' });
    const limited = await client.call('POST', '/login/second-factor', {
      code: totpCode(secret, h.clock.now()),
    });
    expect(limited.status).toBe(429);
    expect(limited.body.error.scope).toBe('second_factor');
  });

  it('lets a pending session lapse after ten minutes', async () => {
    const { client: first, email } = await signedIn(h);
    const { secret } = await enable2fa(first);
    const client = await loginPending(email, '10.8.0.1');
    h.clock.advance(601);
    const late = await client.call('POST', '/login/second-factor', { code: totpCode(secret, h.clock.now()) });
    expect(late.status).toBe(401);
    expect(late.body.error.code).toBe('SESSION_REQUIRED');
  });

  it('turns two-factor login off with the password and a code; new recovery codes replace the old', async () => {
    const { client, email } = await signedIn(h);
    const { secret, recovery } = await enable2fa(client);
    h.clock.advance(31);
    const fresh = await client.call('POST', '/two-factor/recovery-codes', {
      code: totpCode(secret, h.clock.now()),
    });
    expect(fresh.body.data.recovery_codes).toHaveLength(10);
    const stale = await loginPending(email, '10.9.0.1');
    expect(
      (await stale.call('POST', '/login/second-factor', { recovery_code: recovery[2] })).body.error.code,
    ).toBe('INVALID_SECOND_FACTOR');
    h.clock.advance(31);
    const noPassword = await client.call('POST', '/two-factor/disable', {
      password: 'not my password',
      code: totpCode(secret, h.clock.now()),
    });
    expect(noPassword.body.error.code).toBe('INVALID_CREDENTIALS');
    const off = await client.call('POST', '/two-factor/disable', {
      password: PASSWORD,
      recovery_code: fresh.body.data.recovery_codes[0],
    });
    expect(off.body.data).toEqual({ enabled: false });
    const plain = new DashboardClient(h, '10.9.0.2');
    await plain.session();
    const login = await plain.call('POST', '/login', { email, password: PASSWORD });
    expect(login.body.data.second_factor_required).toBe(false);
  });
});
