import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, expect } from 'vitest';
import { ADMIN_TOKEN, freshDatabaseUrl, type ServerProcess, startProcess } from '../../../../test/harness.js';

/**
 * A real otpd process (the built CLI) on a fresh database, and its admin API
 * for what an API key cannot do (accounts, apps, keys, template review,
 * webhook endpoints, top-ups). The SDK under test only ever talks to it
 * over HTTP.
 */
export async function startOtpd(env: Record<string, string> = {}): Promise<Otpd> {
  const proc = await startProcess(await freshDatabaseUrl(), env);
  afterAll(() => proc.stop());
  return new Otpd(proc);
}

export class Otpd {
  constructor(readonly proc: ServerProcess) {}

  get url(): string {
    return this.proc.url;
  }

  /** An admin API call; fails the test unless it answers 2xx. */
  async admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/admin/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as { success: boolean; data: T };
    expect(json.success, `${method} ${path}: ${JSON.stringify(json)}`).toBe(true);
    return json.data;
  }

  /** A new account with an app (sandbox unless the policy says otherwise) and its API key. */
  async tenant(
    policy: Record<string, unknown> = {},
  ): Promise<{ accountId: string; appId: string; key: string }> {
    const account = await this.admin<{ id: string }>('POST', '/accounts', { name: 'SDK test' });
    const app = await this.admin<{ id: string }>('POST', '/apps', {
      account_id: account.id,
      name: 'SDK app',
      environment: 'sandbox',
      ...policy,
    });
    const key = await this.admin<{ secret: string }>('POST', `/apps/${app.id}/keys`);
    return { accountId: account.id, appId: app.id, key: key.secret };
  }
}

/** What the proxy does with one request. */
export type ProxyStep =
  /** Pass it on and answer what otpd answered. */
  | 'forward'
  /** Pass it on, let otpd finish, then cut the connection without answering. */
  | 'drop'
  /** Pass it on, let otpd finish, then never answer (the client times out). */
  | 'stall'
  /** Cut the connection without passing it on. */
  | 'refuse'
  /** Answer this instead, without passing it on. */
  | { status: number; headers?: Record<string, string>; body?: string };

export interface ProxiedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * A loopback proxy in front of otpd that misbehaves on demand: each request
 * takes the next step of its plan (then `forward`), so a test can lose an
 * answer after otpd did the work and watch what the client does about it.
 */
export class FlakyProxy {
  readonly requests: ProxiedRequest[] = [];
  private plan: ProxyStep[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly upstream: string,
  ) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  static async start(upstream: string): Promise<FlakyProxy> {
    let proxy: FlakyProxy | undefined;
    const server = createServer((req, res) => void proxy!.handle(req, res));
    proxy = new FlakyProxy(server, upstream);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    afterAll(() => proxy.close());
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next requests take these steps in turn; the ones after them are forwarded. */
  next(...steps: ProxyStep[]): void {
    this.plan = steps;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers[name] = value;
    }
    this.requests.push({ method: req.method!, url: req.url!, headers, body });
    const step = this.plan.shift() ?? 'forward';
    if (step === 'refuse') {
      req.socket.destroy();
      return;
    }
    if (typeof step === 'object') {
      res.writeHead(step.status, { 'content-type': 'text/plain', ...step.headers });
      res.end(step.body ?? '');
      return;
    }
    const { host: _host, connection: _connection, 'content-length': _length, ...passOn } = headers;
    const answer = await fetch(`${this.upstream}${req.url}`, {
      method: req.method,
      headers: passOn,
      body: body === '' ? undefined : body,
    });
    const text = await answer.text();
    if (step === 'drop') {
      req.socket.destroy();
      return;
    }
    if (step === 'stall') return;
    const answerHeaders = Object.fromEntries(answer.headers);
    delete answerHeaders['content-length'];
    delete answerHeaders['transfer-encoding'];
    res.writeHead(answer.status, answerHeaders);
    res.end(text);
  }
}

/** Polls `probe` until it answers something, for at most `ms`. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 15_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
