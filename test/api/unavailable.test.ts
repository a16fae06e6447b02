import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/http/server.js';
import { PrivatePostgres } from '../chaos/pg-cluster.js';
import {
  ADMIN_TOKEN,
  backend,
  createHarness,
  freshDatabaseUrl,
  http,
  type Response,
  type ServerProcess,
  startProcess,
} from '../harness.js';

/**
 * A database that is slow, busy, down or out of disk gives fast 503
 * SERVICE_UNAVAILABLE answers with Retry-After (never a 500, never a queue
 * of requests waiting without end), and otpd recovers by itself when the
 * database does. Real otpd processes on real databases.
 */

const phone = (n: number) => `+9779846${String(n).padStart(6, '0')}`;

async function tenant(base: string) {
  const admin = (method: string, path: string, body?: unknown) =>
    http(`${base}${path}`, method, { key: ADMIN_TOKEN, body });
  const account = await admin('POST', '/admin/v1/accounts', { name: 'Unavailable' });
  const app = await admin('POST', '/admin/v1/apps', {
    account_id: account.body.data.id,
    name: 'Unavailable app',
    environment: 'sandbox',
    limits: { phone_hour: { max: 100, window: 3600 }, key_minute: { max: 100000, window: 60 } },
  });
  return (await admin('POST', `/admin/v1/apps/${app.body.data.id}/keys`)).body.data.secret as string;
}

/** A request, timed. */
async function timed(request: () => Promise<Response>): Promise<Response & { ms: number }> {
  const t0 = Date.now();
  const r = await request();
  return { ...r, ms: Date.now() - t0 };
}

function expectUnavailable(r: Response) {
  expect(r.status, JSON.stringify(r.body)).toBe(503);
  expect(r.body).toMatchObject({ success: false, error: { code: 'SERVICE_UNAVAILABLE' } });
  expect(r.body.request_id).toMatch(/^req_/);
  const retryAfter = Number(r.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(5);
  expect(r.body.error.retry_after).toBe(retryAfter);
}

describe('a process that is shutting down', () => {
  it('finishes a request in flight (closing its connection) and answers newcomers 503 with the envelope', async () => {
    const h = await createHarness();
    const app = await buildServer(h.ctx);
    let finish = () => {};
    const held = new Promise<void>((resolve) => {
      finish = resolve;
    });
    app.get('/test-slow', async () => {
      await held;
      return { success: true, data: 'done' };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const agent = new Agent({ keepAlive: true });
    const inFlight = new Promise<{ status: number; connection: string | undefined; body: string }>(
      (resolve) => {
        request({ port, host: '127.0.0.1', path: '/test-slow', agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
        }).end();
      },
    );
    // A second connection whose request is half sent when the close begins (so it is not idle).
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: otpd\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = app.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    let raw = '';
    socket.on('data', (d) => (raw += d));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.write('\r\n');
    await ended;
    const [head, body] = raw.split('\r\n\r\n');
    const headers = Object.fromEntries(
      head!
        .split('\r\n')
        .slice(1)
        .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    );
    expectUnavailable({ status: Number(head!.split(' ')[1]), headers, body: JSON.parse(body!) });
    expect(headers.connection).toBe('close');
    finish();
    const answer = await inFlight;
    expect(answer).toMatchObject({ status: 200, connection: 'close' });
    await closed;
    agent.destroy();
  });
});

describe.runIf(backend === 'postgres')('PostgreSQL: every pooled connection busy', () => {
  let proc: ServerProcess;
  let key: string;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await freshDatabaseUrl();
    proc = await startProcess(databaseUrl, {
      OTPD_DB_POOL: '2',
      OTPD_DB_TIMEOUT: '1',
      OTPD_DB_STATEMENT_TIMEOUT: '3',
      OTPD_WORKERS: 'false',
    });
    key = await tenant(proc.url);
  });
  afterAll(() => proc?.stop());

  it('requests beyond the pool get 503 in about a second, stuck ones at the statement timeout; then it recovers', async () => {
    const locker = new pg.Client({ connectionString: databaseUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table api_keys in access exclusive mode');
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => timed(() => http(`${proc.url}/v1/otp?limit=1`, 'GET', { key }))),
      );
      for (const r of answers) expectUnavailable(r);
      const fast = answers.filter((r) => r.ms < 2_500);
      // Two requests hold the two connections until the statement timeout; the others did not wait for them.
      expect(fast.length).toBeGreaterThanOrEqual(4);
      for (const r of answers) expect(r.ms).toBeLessThan(5_000);
      expect(proc.output()).not.toMatch(/"level":50/);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
    }
    const after = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(1) } });
    expect(after.status).toBe(201);
  });
});

describe.runIf(backend === 'postgres' && PrivatePostgres.available())(
  'PostgreSQL: the server goes down and comes back',
  () => {
    let server: PrivatePostgres;
    let proc: ServerProcess;
    let key: string;

    beforeAll(async () => {
      server = await PrivatePostgres.start();
      proc = await startProcess(server.url('postgres'), { OTPD_DB_TIMEOUT: '1' });
      key = await tenant(proc.url);
    });
    afterAll(async () => {
      await proc?.stop();
      await server?.stop();
    });

    it('answers 503 quickly while it is down, and serves again without a restart', async () => {
      expect((await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(2) } })).status).toBe(
        201,
      );
      await server.halt();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(proc.child.exitCode, proc.output()).toBeNull();
      for (let i = 0; i < 5; i++) {
        const r = await timed(() =>
          http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(3) } }),
        );
        expectUnavailable(r);
        expect(r.ms).toBeLessThan(2_500);
      }
      expectUnavailable(await http(`${proc.url}/readyz`, 'GET'));
      await server.resume();
      const ready = await http(`${proc.url}/readyz`, 'GET');
      expect(ready.status).toBe(200);
      const sent = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(3) } });
      expect(sent.status).toBe(201);
      // One warning per 10 s, not a stack per request; the process never crashed.
      const warnings = proc.output().match(/database unavailable, answering 503/g) ?? [];
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(warnings.length).toBeLessThanOrEqual(2);
      expect(proc.child.exitCode).toBeNull();
    });
  },
);

describe.runIf(backend === 'sqlite')('SQLite: the database is locked past busy_timeout', () => {
  let proc: ServerProcess;
  let key: string;
  let file: string;

  beforeAll(async () => {
    file = await freshDatabaseUrl();
    proc = await startProcess(file, { OTPD_WORKERS: 'false' });
    key = await tenant(proc.url);
  });
  afterAll(() => proc?.stop());

  it('a write answers 503 after the 5 s busy timeout, reads go on, and it recovers', async () => {
    const other = new SQLite(file);
    try {
      other.prepare('begin immediate').run();
      const write = await timed(() =>
        http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(4) } }),
      );
      expectUnavailable(write);
      expect(write.ms).toBeLessThan(8_000);
      expect((await http(`${proc.url}/readyz`, 'GET')).status).toBe(200);
    } finally {
      other.prepare('rollback').run();
      other.close();
    }
    expect((await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(4) } })).status).toBe(
      201,
    );
  }, 30_000);
});

/** Whether a 2 MB tmpfs can be mounted here (root in a namespace that allows it). */
function tinyDisk(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'otpd-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

const disk = backend === 'sqlite' ? tinyDisk() : undefined;

// Skipped (visibly) where mounting a tmpfs is not allowed: not root, or no mount namespace rights.
describe.runIf(disk !== undefined)('SQLite: the disk fills up', () => {
  let proc: ServerProcess;
  let key: string;
  const file = join(disk ?? '/nonexistent', 'data', 'otpd.db');

  beforeAll(async () => {
    mkdirSync(join(disk!, 'data'), { recursive: true });
    proc = await startProcess(file, { OTPD_WORKERS: 'false' });
    key = await tenant(proc.url);
  });
  afterAll(async () => {
    await proc?.stop();
    execFileSync('umount', [disk!]);
    rmSync(disk!, { recursive: true, force: true });
  });

  it('answers 503 "the disk is full", keeps what it had, and writes again once there is room', async () => {
    const before = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(10) } });
    expect(before.status).toBe(201);
    const filler = join(disk!, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      // dd stops with ENOSPC: the disk is full, as wanted.
    }
    let full: Response | undefined;
    for (let i = 0; i < 50 && !full; i++) {
      const r = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(100 + i) } });
      if (r.status !== 201) full = r;
    }
    expect(full, 'a send failed once the disk was full').toBeDefined();
    expectUnavailable(full!);
    expect(full!.body.error.message).toMatch(/disk is full/i);
    // What was answered before is still there.
    expect((await http(`${proc.url}/v1/otp/${before.body.data.otp_id}`, 'GET', { key })).status).toBe(200);

    rmSync(filler);
    const after = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(11) } });
    expect(after.status).toBe(201);
    await proc.stop();
    const check = new SQLite(file, { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    check.close();
    writeFileSync(join(disk!, 'ok'), '');
  });
});
