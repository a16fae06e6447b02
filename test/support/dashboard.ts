import { Secret, TOTP } from 'otpauth';
import { ADMIN_TOKEN, type Harness, type Response } from '../harness.js';

/**
 * A browser's view of the dashboard API through server.inject: it keeps the
 * cookies the server sets and echoes the CSRF cookie in X-CSRF-Token, as
 * the front end does.
 */
export class DashboardClient {
  readonly cookies = new Map<string, string>();
  /** The Set-Cookie headers of the last answer. */
  lastSetCookie: string[] = [];

  constructor(
    private readonly h: Harness,
    readonly ip = '127.0.0.1',
  ) {}

  async call(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    options: { csrf?: string | false; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const csrf = options.csrf === undefined ? this.cookies.get('otpd_csrf') : options.csrf;
    if (csrf) headers['x-csrf-token'] = csrf;
    const res = await this.h.server.inject({
      method,
      url:
        url.startsWith('/') && !url.startsWith('/dashboard') && !url.startsWith('/inbox')
          ? `/dashboard/api${url}`
          : url,
      headers,
      remoteAddress: this.ip,
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    const setCookie = res.headers['set-cookie'];
    this.lastSetCookie = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
    for (const line of this.lastSetCookie) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    let parsed: unknown = res.body;
    try {
      parsed = res.json();
    } catch {
      // not JSON
    }
    return { status: res.statusCode, headers: res.headers as Response['headers'], body: parsed };
  }

  /** Fetches the session state (and so a CSRF cookie). */
  session(): Promise<Response> {
    return this.call('GET', '/session');
  }
}

/** Mail otpd wrote to an address, newest first. */
export async function mailTo(
  h: Harness,
  to: string,
): Promise<{ subject: string; text: string; status: string; error: string | null }[]> {
  const res = await h.call('GET', `/admin/v1/mail?to=${encodeURIComponent(to)}`, { key: ADMIN_TOKEN });
  return res.body.data.items;
}

/** The token of the newest mailed link of one kind (`verify-email`, `reset-password`). */
export async function linkToken(
  h: Harness,
  to: string,
  kind: 'verify-email' | 'reset-password',
): Promise<string> {
  for (const mail of await mailTo(h, to)) {
    const match = mail.text.match(new RegExp(`/${kind}#token=([A-Za-z0-9_-]+)`));
    if (match) return match[1]!;
  }
  throw new Error(`no ${kind} link mailed to ${to}`);
}

export const PASSWORD = 'correct horse battery';

let counter = 0;
export const uniqueEmail = (label = 'user') => `${label}-${Date.now().toString(36)}-${counter++}@example.com`;

/** Signs up, verifies the address and logs in: a client with a full session. */
export async function signedIn(
  h: Harness,
  options: { email?: string; operatorToken?: string; ip?: string } = {},
): Promise<{ client: DashboardClient; email: string; accountId: string | null; userId: string }> {
  const email = options.email ?? uniqueEmail();
  const client = new DashboardClient(h, options.ip);
  await client.session();
  const signup = await client.call('POST', '/signup', {
    email,
    password: PASSWORD,
    ...(options.operatorToken ? { operator_token: options.operatorToken } : {}),
  });
  if (signup.status !== 201) throw new Error(`sign-up failed: ${JSON.stringify(signup.body)}`);
  const verified = await client.call('POST', '/verify-email', {
    token: await linkToken(h, email, 'verify-email'),
  });
  if (verified.status !== 200) throw new Error(`verification failed: ${JSON.stringify(verified.body)}`);
  const login = await client.call('POST', '/login', { email, password: PASSWORD });
  if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
  const user = login.body.data.user;
  return { client, email, accountId: user.account_id, userId: user.id };
}

/** The code of a TOTP secret at a time (the harness clock's). */
export const totpCode = (secret: string, at: number): string =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
