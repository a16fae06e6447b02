import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import {
  ADMIN_TOKEN,
  freshDatabaseUrl,
  http,
  type Response,
  type ServerProcess,
  startProcess,
} from '../harness.js';

/**
 * SIGTERM on a real otpd process (the built CLI) in the middle of a burst:
 * it stops taking connections, answers every request it had accepted,
 * stops its delivery worker, hands back the messages it had claimed but
 * not sent, and exits 0 within OTPD_SHUTDOWN_TIMEOUT. The next process
 * delivers every acknowledged message, each once.
 */

const SHUTDOWN_TIMEOUT_S = 8;
const phone = (n: number) => `+9779845${String(n).padStart(6, '0')}`;

/** An SMS gateway that takes 150 ms per message and records what it got. */
class SlowGateway {
  readonly received: string[] = [];
  private constructor(readonly server: Server) {}
  static async start(): Promise<SlowGateway> {
    const gateway: SlowGateway = new SlowGateway(
      createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          setTimeout(() => {
            gateway.received.push(JSON.parse(body).to);
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify({ ok: true, data: { id: `gw-${gateway.received.length}` } }));
          }, 150);
        });
      }),
    );
    await new Promise<void>((r) => gateway.server.listen(0, '127.0.0.1', r));
    return gateway;
  }
  get url() {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }
}

let gateway: SlowGateway;
let databaseUrl: string;
let configFile: string;

beforeAll(async () => {
  gateway = await SlowGateway.start();
  databaseUrl = await freshDatabaseUrl();
  configFile = join(mkdtempSync(join(tmpdir(), 'otpd-drain-')), 'delivery.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      providers: {
        gw: {
          type: 'http',
          url: `${gateway.url}/send`,
          body: { to: '{phone}', message: '{text}' },
          success: { json_path: 'ok' },
          message_id: { json_path: 'data.id' },
          timeout: 2,
          // 20 a second: most of a burst waits, claimed, when SIGTERM comes.
          throughput: 20,
        },
      },
      routes: [{ providers: ['gw'] }],
    }),
  );
});

afterAll(() => gateway?.close());

const start = () =>
  startProcess(databaseUrl, { OTPD_CONFIG: configFile, OTPD_SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT_S) });

/** A request's outcome: its answer, or that it never got one (the connection was refused or closed). */
async function attempt(request: () => Promise<Response>): Promise<Response | 'no answer'> {
  try {
    return await request();
  } catch {
    return 'no answer';
  }
}

describe('SIGTERM drains', () => {
  it('answers what it accepted, releases unsent claims, exits 0 in time; nothing acknowledged is lost', {
    timeout: 90_000,
  }, async () => {
    let proc: ServerProcess = await start();
    const admin = (method: string, path: string, body?: unknown) =>
      http(`${proc.url}${path}`, method, { key: ADMIN_TOKEN, body });
    const account = await admin('POST', '/admin/v1/accounts', { name: 'Drain' });
    const app = await admin('POST', '/admin/v1/apps', {
      account_id: account.body.data.id,
      name: 'Drain app',
      environment: 'live',
      limits: { phone_hour: { max: 100, window: 3600 }, key_minute: { max: 100000, window: 60 } },
    });
    expect(app.status).toBe(201);
    const key = (await admin('POST', `/admin/v1/apps/${app.body.data.id}/keys`)).body.data.secret as string;
    const send = (n: number) => () =>
      http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(n) } });

    // A first burst, acknowledged: its messages are claimed and trickle out at 20/s.
    const first = await Promise.all(Array.from({ length: 60 }, (_, i) => attempt(send(i))));
    for (const r of first) expect(r !== 'no answer' && r.status).toBe(201);
    await new Promise((r) => setTimeout(r, 500));

    // A second burst, in flight when SIGTERM comes.
    const second = Array.from({ length: 40 }, (_, i) => attempt(send(100 + i)));
    await Promise.race(second);
    const exited = new Promise<{ code: number | null; ms: number }>((resolve) => {
      const t0 = Date.now();
      proc.child.once('exit', (code) => resolve({ code, ms: Date.now() - t0 }));
    });
    proc.child.kill('SIGTERM');
    const answers = await Promise.all(second);
    const { code, ms } = await exited;
    expect(code, proc.output().slice(-3000)).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_S * 1000);

    // Every answer is a 201 or our 503 with Retry-After; a request it never accepted has no answer.
    const acknowledged = new Set<string>(Array.from({ length: 60 }, (_, i) => phone(i)));
    for (const [i, r] of answers.entries()) {
      if (r === 'no answer') continue;
      if (r.status === 201) acknowledged.add(phone(100 + i));
      else {
        expect(r.status).toBe(503);
        expect(r.body.error.code).toBe('SERVICE_UNAVAILABLE');
        expect(r.headers['retry-after']).toBeDefined();
      }
    }
    expect(acknowledged.size).toBeGreaterThan(60);

    // The worker stopped with messages claimed: none is left holding a lease.
    const sentBefore = gateway.received.length;
    expect(sentBefore).toBeLessThan(acknowledged.size);
    const store = await openStore({ url: databaseUrl });
    try {
      const held = await store.db
        .selectFrom('messages')
        .select('id')
        .where('status', '=', 'sending')
        .where('next_try_at', '>', Date.now())
        .execute();
      expect(held).toEqual([]);
    } finally {
      await store.close();
    }

    // The next process delivers every acknowledged message, each once.
    proc = await start();
    const deadline = Date.now() + 30_000;
    while (gateway.received.length < acknowledged.size && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(new Set(gateway.received)).toEqual(acknowledged);
    expect(gateway.received.length).toBe(acknowledged.size);
    await proc.stop();
    expect(proc.child.exitCode).toBe(0);
  });
});
