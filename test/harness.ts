import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import pino from 'pino';
import { afterAll, inject } from 'vitest';
import type { Context } from '../src/context.js';
import { type Clock, ManualClock } from '../src/core/clock.js';
import { deriveKeyring } from '../src/core/crypto.js';
import type { AppPolicy, Environment } from '../src/core/policy.js';
import { checkDeliveryConfig } from '../src/delivery/config.js';
import type { Provider } from '../src/delivery/provider.js';
import { buildDelivery, type Delivery, PROVIDER_SCHEMAS } from '../src/delivery/registry.js';
import { DeliveryWorker, type WorkerOptions } from '../src/delivery/worker.js';
import { buildServer } from '../src/http/server.js';
import { openStore } from '../src/store/db.js';
import { createAccount } from '../src/tenancy/accounts.js';
import { type App, createApp } from '../src/tenancy/apps.js';
import { createKey } from '../src/tenancy/keys.js';

export const backend = (process.env.OTPD_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres';
export const ADMIN_TOKEN = 'test-operator-token-0123456789abcdef';
export const SECRET = 'test-secret-0123456789abcdef-0123456789';
const PG_ADMIN = process.env.OTPD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh database for one test file: a new PostgreSQL database or a new
 * SQLite file. Dropped (deleted) when the file's tests end.
 */
export async function freshDatabaseUrl(): Promise<string> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'otpd-test-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    return join(dir, 'otpd.db');
  }
  const name = `${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  await client.query(`create database "${name}"`);
  await client.end();
  afterAll(async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN });
    await c.connect();
    await c.query(`drop database if exists "${name}" with (force)`);
    await c.end();
  });
  return PG_ADMIN.replace(/\/[^/]*$/, `/${name}`);
}

export interface Response<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export interface Harness {
  ctx: Context;
  server: FastifyInstance;
  clock: ManualClock;
  worker: DeliveryWorker;
  /** The providers and routes (`options.delivery`; the inbox alone otherwise). */
  delivery: Delivery;
  databaseUrl: string;
  /** An HTTP call through the server, with an API key or the operator token. */
  call(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    options?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  admin(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<Response>;
  /** A new account and app with a key; the app's policy from `policy`. */
  tenant(
    policy?: Partial<AppPolicy> & { environment?: Environment },
  ): Promise<{ app: App; key: string; accountId: string }>;
  /** Runs delivery until the outbox is empty. */
  deliver(): Promise<void>;
  /** What the inbox holds for a phone, newest first. */
  inbox(phone?: string): Promise<{ text: string; phone: string; channel: string }[]>;
}

/**
 * otpd in-process on a fresh database, with a hand-driven clock and a
 * delivery worker that runs only when `deliver()` is called.
 */
export async function createHarness(
  options: {
    clock?: ManualClock;
    /** One provider for every message (overrides `delivery`'s routes). */
    provider?: (ctx: Context) => Provider;
    /** A delivery configuration as in OTPD_CONFIG (checked the same way); its providers are started. */
    delivery?: unknown;
    worker?: Partial<WorkerOptions>;
    logger?: pino.Logger;
  } = {},
): Promise<Harness> {
  const databaseUrl = await freshDatabaseUrl();
  const store = await openStore({ url: databaseUrl });
  const clock = options.clock ?? new ManualClock(Date.now());
  const ctx: Context = {
    store,
    clock: clock as Clock,
    keyring: deriveKeyring(SECRET),
    log: options.logger ?? pino({ level: 'silent' }),
    wakeDelivery: () => {},
    // Test receivers listen on loopback; SSRF tests turn this off.
    allowPrivateWebhooks: true,
  };
  const config = options.delivery
    ? checkDeliveryConfig(options.delivery, PROVIDER_SCHEMAS)
    : checkDeliveryConfig({ providers: {} }, PROVIDER_SCHEMAS);
  const delivery = buildDelivery(ctx, config);
  const provider = options.provider?.(ctx);
  const worker = new DeliveryWorker(
    ctx,
    provider ? () => [provider] : (m) => delivery.router.providersFor(m),
    { reconcileMs: config.reconcile_after * 1000, leaseMs: config.lease * 1000, ...options.worker },
  );
  const server = await buildServer(ctx, { adminToken: ADMIN_TOKEN, delivery });
  await server.ready();
  await delivery.start();
  afterAll(async () => {
    await server.close();
    await delivery.close();
    await store.close();
  });

  const call: Harness['call'] = async (method, url, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    const res = await server.inject({
      method,
      url,
      headers,
      ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
    });
    let body: unknown = res.body;
    try {
      body = res.json();
    } catch {
      // not JSON (HTML, metrics)
    }
    return { status: res.statusCode, headers: res.headers as Response['headers'], body };
  };

  return {
    ctx,
    server,
    clock,
    worker,
    delivery,
    databaseUrl,
    call,
    admin: (method, url, body) => call(method, url, { key: ADMIN_TOKEN, body }),
    async tenant(policy = {}) {
      const { environment = 'sandbox', ...rest } = policy;
      const account = await createAccount(ctx, { name: 'Test' });
      const app = await createApp(ctx, { account_id: account.id, name: 'Test app', environment, ...rest });
      const key = await createKey(ctx, app.id);
      return { app, key: key.secret, accountId: account.id };
    },
    async deliver() {
      while ((await worker.drainOnce()) > 0) {
        // until nothing is due
      }
    },
    async inbox(phone) {
      const res = await call('GET', `/admin/v1/inbox${phone ? `?phone=${encodeURIComponent(phone)}` : ''}`, {
        key: ADMIN_TOKEN,
      });
      return res.body.data.items;
    },
  };
}

/** The code in the newest inbox message of a phone. */
export async function codeFromInbox(h: Harness, phone: string): Promise<string> {
  await h.deliver();
  const [latest] = await h.inbox(phone);
  const match = latest?.text.match(/code is ([0-9A-Z]+)/);
  if (!match) throw new Error(`no code in the inbox for ${phone}`);
  return match[1]!;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Every otpd process a test started; none outlives its test file (or a crashed runner). */
const children = new Set<ChildProcess>();
const killAll = () => {
  for (const child of children) child.kill('SIGKILL');
};
process.once('exit', killAll);
afterAll(killAll);

/** Starts `otpd serve` (the built CLI) as its own process on a free port. */
export async function startProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      OTPD_SECRET: SECRET,
      OTPD_ADMIN_TOKEN: ADMIN_TOKEN,
      OTPD_DATA_DIR: join(tmpdir(), 'otpd-proc-data'),
      PORT: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`otpd did not start:\n${out}`));
    }, 20_000);
    const check = () => {
      const m = out.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`otpd exited with ${code}:\n${out}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const proc: ServerProcess = {
    url,
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  return proc;
}

/** fetch against a process, with an API key, answering status and JSON. */
export async function http(
  url: string,
  method: string,
  options: { key?: string; body?: unknown } = {},
): Promise<Response> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.json() };
}

/** Fires `n` requests at once. */
export const parallel = (n: number, request: (i: number) => Promise<Response>) =>
  Promise.all(Array.from({ length: n }, (_, i) => request(i)));

/** How many responses had each outcome: `201`, `409 ACTIVE_OTP_EXISTS`, … */
export function tally(responses: Response[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of responses) {
    const outcome = r.body.success ? String(r.status) : `${r.status} ${r.body.error?.code}`;
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return counts;
}
