import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import {
  ADMIN_TOKEN,
  freshDatabaseUrl,
  http,
  parallel,
  type ServerProcess,
  startProcess,
  tally,
} from '../harness.js';

/**
 * Real otpd processes (the built CLI: `npm run build` first) sharing one
 * database. Every guarantee that the in-process race tests check must also
 * hold when the requests are split across two processes, and a process
 * killed with SIGKILL must lose nothing.
 */

const phone = (n: number) => `+9779843${String(n).padStart(6, '0')}`;

/** An account, an app and a key, made through the admin API of a process. */
async function tenant(base: string, policy: Record<string, unknown> = {}) {
  const admin = (method: string, path: string, body?: unknown) =>
    http(`${base}${path}`, method, { key: ADMIN_TOKEN, body });
  const account = await admin('POST', '/admin/v1/accounts', { name: 'Cluster' });
  expect(account.status).toBe(201);
  const app = await admin('POST', '/admin/v1/apps', {
    account_id: account.body.data.id,
    name: 'Cluster app',
    environment: 'sandbox',
    ...policy,
  });
  expect(app.status).toBe(201);
  const key = await admin('POST', `/admin/v1/apps/${app.body.data.id}/keys`);
  expect(key.status).toBe(201);
  return {
    appId: app.body.data.id as string,
    key: key.body.data.secret as string,
    keyId: key.body.data.id as string,
  };
}

/** Polls `probe` until it answers something, for at most `ms`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A request with an Idempotency-Key. */
async function idempotent(url: string, key: string, idempotencyKey: string, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
}

describe.each([2, 3])('%i processes on one database: every race test holds', (n) => {
  let processes: ServerProcess[] = [];
  let a: ServerProcess;
  let b: ServerProcess;
  /** Takes the processes in turn. */
  const base = (i: number) => processes[i % n]!.url;

  beforeAll(async () => {
    const url = await freshDatabaseUrl();
    // Started together on a fresh database: all migrate and initialise it.
    processes = await Promise.all(Array.from({ length: n }, () => startProcess(url)));
    [a, b] = processes as [ServerProcess, ServerProcess];
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
  });

  it('all come up on a fresh database, and only one sets it up', async () => {
    for (const p of processes) expect((await http(`${p.url}/readyz`, 'GET')).status).toBe(200);
    expect(processes.filter((p) => p.output().includes('First run')).length).toBe(1);
    const accounts = await http(`${a.url}/admin/v1/accounts?limit=100`, 'GET', { key: ADMIN_TOKEN });
    expect(accounts.body.data.items.filter((x: { name: string }) => x.name === 'Demo')).toHaveLength(1);
  });

  it('50 wrong guesses with max_attempts 3: exactly 3 counted, then the right code is refused', async () => {
    const { key } = await tenant(a.url, { max_attempts: 3 });
    for (let round = 0; round < 3; round++) {
      const sent = await http(`${a.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(round) } });
      expect(sent.status).toBe(201);
      const otpId = sent.body.data.otp_id as string;

      const results = await parallel(50, (i) =>
        http(`${base(i)}/v1/otp/verify`, 'POST', { key, body: { otp_id: otpId, code: '000000' } }),
      );
      expect(tally(results)).toEqual({ '400 INVALID_OTP': 3, '400 MAX_ATTEMPTS_EXCEEDED': 47 });

      const status = await http(`${b.url}/v1/otp/${otpId}`, 'GET', { key });
      expect(status.body.data).toMatchObject({ attempts: 3, status: 'max_attempts' });
      for (const p of [a, b]) {
        const right = await http(`${p.url}/v1/otp/verify`, 'POST', {
          key,
          body: { otp_id: otpId, code: '123456' },
        });
        expect(right.body.error.code).toBe('MAX_ATTEMPTS_EXCEEDED');
      }
      expect((await http(`${a.url}/v1/otp/${otpId}`, 'GET', { key })).body.data.attempts).toBe(3);
    }
  });

  it('20 simultaneous right codes: exactly one verified', async () => {
    const { key } = await tenant(b.url);
    for (let round = 0; round < 3; round++) {
      const sent = await http(`${b.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(10 + round) } });
      const otpId = sent.body.data.otp_id as string;
      const results = await parallel(20, (i) =>
        http(`${base(i)}/v1/otp/verify`, 'POST', { key, body: { otp_id: otpId, code: '123456' } }),
      );
      expect(tally(results)).toEqual({ '200': 1, '409 OTP_ALREADY_VERIFIED': 19 });
      expect(results.find((r) => r.status === 200)!.body.data).toMatchObject({
        verified: true,
        otp_id: otpId,
      });
      const status = await http(`${a.url}/v1/otp/${otpId}`, 'GET', { key });
      expect(status.body.data).toMatchObject({ status: 'verified', attempts: 1 });
    }
  });

  it('20 simultaneous sends to one phone: exactly one accepted, the rest ACTIVE_OTP_EXISTS', async () => {
    const { key } = await tenant(a.url);
    for (let round = 0; round < 3; round++) {
      const to = phone(20 + round);
      const results = await parallel(20, (i) =>
        http(`${base(i)}/v1/otp/send`, 'POST', { key, body: { phone: to } }),
      );
      expect(tally(results)).toEqual({ '201': 1, '409 ACTIVE_OTP_EXISTS': 19 });
      const otpId = results.find((r) => r.status === 201)!.body.data.otp_id;
      for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.otp_id).toBe(otpId);
      const limits = await http(`${b.url}/v1/rate-limits?phone=${encodeURIComponent(to)}`, 'GET', { key });
      expect(limits.body.data.limits.find((l: { scope: string }) => l.scope === 'phone_hour').remaining).toBe(
        4,
      );
    }
  });

  it('20 simultaneous sends to distinct phones with key_minute 5: exactly 5 accepted', async () => {
    for (let round = 0; round < 3; round++) {
      const { key } = await tenant(b.url, { limits: { key_minute: { max: 5, window: 60 } } });
      const results = await parallel(20, (i) =>
        http(`${base(i)}/v1/otp/send`, 'POST', { key, body: { phone: phone(100 + 20 * round + i) } }),
      );
      expect(tally(results)).toEqual({ '201': 5, '429 RATE_LIMIT_EXCEEDED': 15 });
      for (const r of results.filter((x) => x.status === 429)) expect(r.body.error.scope).toBe('key_minute');
      const list = await http(`${a.url}/v1/otp?limit=100`, 'GET', { key });
      expect(list.body.data.items).toHaveLength(5);
    }
  });

  it('10 parallel key creations: never more than 3 active keys', async () => {
    const { appId } = await tenant(a.url);
    const results = await parallel(10, (i) =>
      http(`${base(i)}/admin/v1/apps/${appId}/keys`, 'POST', { key: ADMIN_TOKEN }),
    );
    expect(tally(results)).toEqual({ '201': 2, '409 API_KEY_LIMIT_REACHED': 8 });
  });

  it('a key revoked through one process is refused by it at once and by the other within a second', async () => {
    const { key, keyId } = await tenant(a.url);
    // Both processes have the key in their cache now.
    expect((await http(`${b.url}/v1/rate-limits`, 'GET', { key })).status).toBe(200);
    expect((await http(`${a.url}/v1/rate-limits`, 'GET', { key })).status).toBe(200);
    const revoked = await http(`${a.url}/admin/v1/keys/${keyId}`, 'DELETE', { key: ADMIN_TOKEN });
    expect(revoked.status).toBe(200);
    const atOnce = await http(`${a.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(200) } });
    expect(atOnce.status).toBe(401);
    expect(atOnce.body.error.code).toBe('INVALID_API_KEY');
    const started = Date.now();
    const refused = await until(
      'the other process to refuse the revoked key',
      async () => {
        const res = await http(`${b.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(201) } });
        return res.status === 401 ? res : undefined;
      },
      2_000,
    );
    expect(refused.body.error.code).toBe('INVALID_API_KEY');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('an app policy changed through one process applies on the other within a second', async () => {
    const { key, appId } = await tenant(a.url, { max_attempts: 3 });
    const first = await http(`${b.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(210) } });
    expect(first.body.data.attempts_remaining).toBe(3);
    const changed = await http(`${a.url}/admin/v1/apps/${appId}`, 'PATCH', {
      key: ADMIN_TOKEN,
      body: { max_attempts: 7 },
    });
    expect(changed.status).toBe(200);
    // The process that made the change applies it at once.
    const here = await http(`${a.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(209) } });
    expect(here.body.data.attempts_remaining).toBe(7);
    const started = Date.now();
    let next = 211;
    const seen = await until(
      'the other process to apply the new max_attempts',
      async () => {
        const res = await http(`${b.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(next++) } });
        expect(res.status).toBe(201);
        return res.body.data.attempts_remaining === 7 ? res : undefined;
      },
      2_000,
    );
    expect(seen.body.data.attempts_remaining).toBe(7);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
  it('parallel resends after the cooldown: exactly one accepted', async () => {
    const { key } = await tenant(a.url, { resend_cooldown: 1 });
    const sent = await http(`${a.url}/v1/otp/send`, 'POST', { key, body: { phone: phone(300 + n) } });
    const otpId = sent.body.data.otp_id as string;
    await new Promise((r) => setTimeout(r, 1_100));
    const results = await parallel(20, (i) =>
      http(`${base(i)}/v1/otp/resend`, 'POST', { key, body: { otp_id: otpId } }),
    );
    expect(tally(results)).toEqual({ '200': 1, '429 RATE_LIMIT_EXCEEDED': 19 });
    for (const r of results.filter((x) => x.status === 429)) {
      expect(r.body.error.scope).toBe('resend_cooldown');
    }
    const status = await http(`${b.url}/v1/otp/${otpId}`, 'GET', { key });
    expect(status.body.data.send_count).toBe(2);
  });

  it('one Idempotency-Key sent to every process at once: exactly one OTP', async () => {
    const { key } = await tenant(a.url);
    const body = { phone: phone(310 + n) };
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => idempotent(`${base(i)}/v1/otp/send`, key, 'cluster-once', body)),
    );
    const created = results.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] === undefined);
    expect(created).toHaveLength(1);
    for (const r of results) {
      if (r === created[0]) continue;
      if (r.status === 409) expect(JSON.parse(r.text).error.code).toBe('IDEMPOTENCY_CONFLICT');
      else expect(r.text).toBe(created[0]!.text);
    }
    const list = await http(`${b.url}/v1/otp?limit=100`, 'GET', { key });
    expect(list.body.data.items).toHaveLength(1);
  });
});

describe('a process killed with SIGKILL loses nothing', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabaseUrl();
  });

  /** The OTP's messages as the database holds them. */
  async function messagesOf(otpId: string) {
    const store = await openStore({ url, poolSize: 1 });
    try {
      return await store.db
        .selectFrom('messages')
        .select(['status', 'next_try_at'])
        .where('otp_id', '=', otpId)
        .execute();
    } finally {
      await store.close();
    }
  }

  /** Sends a code in a live app through a process, and kills it at once after the 201. */
  async function sendThenKill(proc: ServerProcess, to: string) {
    const { key } = await tenant(proc.url, { environment: 'live' });
    const sent = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: to } });
    await proc.stop('SIGKILL');
    expect(sent.status).toBe(201);
    return { key, otpId: sent.body.data.otp_id as string };
  }

  /** After a restart: the message reaches the inbox, and its code verifies. */
  async function deliveredAndVerifies(
    proc: ServerProcess,
    key: string,
    otpId: string,
    to: string,
    ms: number,
  ) {
    const text = await until(
      `the message to ${to}`,
      async () => {
        const inbox = await http(`${proc.url}/admin/v1/inbox?phone=${encodeURIComponent(to)}`, 'GET', {
          key: ADMIN_TOKEN,
        });
        return inbox.body.data.items[0]?.text as string | undefined;
      },
      ms,
    );
    const code = text.match(/code is (\d{6})\b/)?.[1];
    expect(code).toBeDefined();
    const verified = await http(`${proc.url}/v1/otp/verify`, 'POST', { key, body: { otp_id: otpId, code } });
    expect(verified.status).toBe(200);
    expect(verified.body.data).toMatchObject({ verified: true, otp_id: otpId });
  }

  it('without a delivery worker: the next process delivers the message, and the code verifies', async () => {
    const noWorkers = await startProcess(url, { OTPD_WORKERS: 'false' });
    const to = phone(300);
    const { key, otpId } = await sendThenKill(noWorkers, to);
    // Nothing was delivered: the OTP and its queued message are all there is.
    expect(await messagesOf(otpId)).toEqual([{ status: 'queued', next_try_at: expect.any(Number) }]);

    const next = await startProcess(url);
    await deliveredAndVerifies(next, key, otpId, to, 10_000);
    await next.stop();
  });

  it('with a delivery worker: the message is still delivered, and the code verifies', async () => {
    const withWorkers = await startProcess(url);
    const to = phone(301);
    const { key, otpId } = await sendThenKill(withWorkers, to);
    // The dead worker may have claimed the message without handing it over:
    // then it is claimed again once its lease ends.
    const [message] = await messagesOf(otpId);
    const leaseLeft = message!.status === 'sending' ? Math.max(0, message!.next_try_at - Date.now()) : 0;

    const next = await startProcess(url);
    await deliveredAndVerifies(next, key, otpId, to, leaseLeft + 10_000);
    await next.stop();
  }, 60_000);
});
