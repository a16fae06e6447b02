import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.js';
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
 * Two otpd processes (the built CLI) on one database spend one wallet at
 * once: the guarded debit must hold across processes exactly as within one.
 */

let processes: ServerProcess[] = [];
let a: ServerProcess;
let b: ServerProcess;
let store: Store;

const admin = (method: string, path: string, body?: unknown) =>
  http(`${a.url}${path}`, method, { key: ADMIN_TOKEN, body });

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each([2, 3])('one wallet, %i processes', (n) => {
  beforeAll(async () => {
    const url = await freshDatabaseUrl();
    processes = await Promise.all(Array.from({ length: n }, () => startProcess(url)));
    [a, b] = processes as [ServerProcess, ServerProcess];
    store = await openStore({ url });
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await store?.close();
  });

  it('a balance worth 10 OTPs and 100 sends split over all: exactly 10 accepted, all captured', async () => {
    const account = await admin('POST', '/admin/v1/accounts', { name: 'Cluster wallet', currency: 'CLW' });
    const accountId = account.body.data.id as string;
    const app = await admin('POST', '/admin/v1/apps', {
      account_id: accountId,
      name: 'Cluster wallet app',
      environment: 'live',
      limits: { key_minute: { max: 10_000, window: 60 } },
    });
    const key = (await admin('POST', `/admin/v1/apps/${app.body.data.id}/keys`)).body.data.secret as string;
    expect(
      (
        await http(`${b.url}/admin/v1/prices`, 'PUT', {
          key: ADMIN_TOKEN,
          body: { currency: 'CLW', channel: 'sms', country: '*', price: 25_000 },
        })
      ).status,
    ).toBe(200);
    expect(
      (await admin('POST', `/admin/v1/accounts/${accountId}/topups`, { amount: 250_000, reference: 'c-1' }))
        .status,
    ).toBe(201);

    for (let round = 0; round < 3; round++) {
      const results = await parallel(100, (i) =>
        http(`${processes[i % n]!.url}/v1/otp/send`, 'POST', {
          key,
          body: { phone: `+9779848${String(round * 100 + i).padStart(6, '0')}` },
        }),
      );
      expect(tally(results)).toEqual({ '201': 10, '402 INSUFFICIENT_BALANCE': 90 });
      // Every process's worker delivers (no provider configured: the inbox), each capture once.
      const balance = await until('every hold captured', async () => {
        const res = await http(`${b.url}/v1/balance`, 'GET', { key });
        return res.body.data.held === 0 ? res.body.data : undefined;
      });
      expect(balance).toMatchObject({ balance: 0, held: 0, currency: 'CLW' });
      if (round < 2) {
        await http(`${b.url}/admin/v1/accounts/${accountId}/topups`, 'POST', {
          key: ADMIN_TOKEN,
          body: { amount: 250_000, reference: `c-${round + 2}` },
        });
      }
    }

    const entries = await store.db
      .selectFrom('ledger_entries')
      .selectAll()
      .where('account_id', '=', accountId)
      .execute();
    const sum = (field: 'amount' | 'held_change') => entries.reduce((s, e) => s + Number(e[field]), 0);
    expect(sum('amount')).toBe(0);
    expect(sum('held_change')).toBe(0);
    expect(entries.filter((e) => e.type === 'hold')).toHaveLength(30);
    expect(entries.filter((e) => e.type === 'capture')).toHaveLength(30);
    const charges = await store.db
      .selectFrom('charges')
      .select('state')
      .where('account_id', '=', accountId)
      .execute();
    expect(charges.map((c) => c.state)).toEqual(Array(30).fill('captured'));
  });
});
