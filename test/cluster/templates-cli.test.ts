import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from '../../src/context.js';
import { systemClock } from '../../src/core/clock.js';
import { deriveKeyring } from '../../src/core/crypto.js';
import { openStore, type Store } from '../../src/store/db.js';
import { sendSms } from '../../src/templates/send.js';
import { submitTemplate } from '../../src/templates/templates.js';
import { createAccount } from '../../src/tenancy/accounts.js';
import { createApp } from '../../src/tenancy/apps.js';
import { authenticate, createKey, type Tenant } from '../../src/tenancy/keys.js';
import { freshDatabaseUrl, SECRET } from '../harness.js';

/**
 * `otpd templates …` as an operator runs it (the built CLI: `npm run build`
 * first), against a fresh database of the project's backend. Tenants submit
 * through the services, as the API would.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'otpd-tpl-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let databaseUrl: string;
let store: Store;
let ctx: Context;

function otpd(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(OTPD_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$)/.test(name)) env[name] = value;
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/cli/main.js', ...args],
      {
        env: { ...env, OTPD_SECRET: SECRET, OTPD_DATA_DIR: dataDir, DATABASE_URL: databaseUrl },
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

async function json(args: string[]): Promise<any> {
  const run = await otpd(args);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

async function fails(args: string[]): Promise<string> {
  const run = await otpd(args);
  expect(run.code).not.toBe(0);
  expect(run.stdout).toBe('');
  return run.stderr.trim();
}

async function tenant(): Promise<Tenant> {
  const account = await createAccount(ctx, { name: 'CLI templates' });
  const app = await createApp(ctx, { account_id: account.id, name: 'Shop', environment: 'sandbox' });
  return authenticate(ctx, (await createKey(ctx, app.id)).secret);
}

const submit = (t: Tenant, name: string) =>
  submitTemplate(ctx, t, {
    name,
    body: 'Your order {{order_id}} has been shipped.',
    use_case: 'Shipping notices',
  });

beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  store = await openStore({ url: databaseUrl, poolSize: 2 });
  ctx = {
    store,
    clock: systemClock,
    keyring: deriveKeyring(SECRET),
    log: pino({ level: 'silent' }),
    wakeDelivery: () => {},
  };
});
afterAll(async () => {
  await store.close();
});

describe('otpd templates', () => {
  it('lists the review queue, approves and rejects, and an approved template can be sent', async () => {
    const t = await tenant();
    const good = await submit(t, 'Order shipped');
    const bad = await submit(t, 'Offer');

    const queue = await json(['templates', 'list', '--status', 'pending']);
    expect(queue.items.map((x: { id: string }) => x.id)).toEqual([bad.template_id, good.template_id]);
    expect(queue.items[1]).toMatchObject({
      id: good.template_id,
      account_id: t.account_id,
      status: 'pending',
      body: 'Your order {{order_id}} has been shipped.',
      variables: ['order_id'],
    });

    const approved = await json(['templates', 'approve', good.template_id]);
    expect(approved).toMatchObject({
      id: good.template_id,
      status: 'approved',
      reviewed_at: expect.any(String),
    });
    const rejected = await json(['templates', 'reject', bad.template_id, '--reason', 'Looks promotional.']);
    expect(rejected).toMatchObject({ status: 'rejected', rejection_reason: 'Looks promotional.' });

    expect((await json(['templates', 'list', '--status', 'pending'])).items).toEqual([]);
    const mine = await json(['templates', 'list', '--account', t.account_id, '--status', 'approved']);
    expect(mine.items.map((x: { id: string }) => x.id)).toEqual([good.template_id]);
    expect(await json(['templates', 'get', bad.template_id])).toEqual(rejected);

    const sent = await sendSms(ctx, t, {
      phone: '+9779846000001',
      template_id: good.template_id,
      variables: { order_id: 'ORD-1' },
    });
    expect(sent.status).toBe('queued');
    await expect(
      sendSms(ctx, t, {
        phone: '+9779846000001',
        template_id: bad.template_id,
        variables: { order_id: 'x' },
      }),
    ).rejects.toMatchObject({ code: 'TEMPLATE_NOT_FOUND' });
  });

  it('pages the list with --limit and --cursor', async () => {
    const t = await tenant();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await submit(t, `Paged ${i}`)).template_id);
    const first = await json(['templates', 'list', '--account', t.account_id, '--limit', '2']);
    expect(first.items.map((x: { id: string }) => x.id)).toEqual([ids[2], ids[1]]);
    const rest = await json(['templates', 'list', '--account', t.account_id, '--cursor', first.next_cursor]);
    expect(rest).toMatchObject({ items: [{ id: ids[0] }], next_cursor: null });
  });

  it('answers with one line naming the error code', async () => {
    const t = await tenant();
    const approved = await submit(t, 'Once');
    await json(['templates', 'approve', approved.template_id]);

    expect(await fails(['templates', 'approve', 'tpl_nope'])).toMatch(/^otpd: TEMPLATE_NOT_FOUND: /);
    expect(await fails(['templates', 'reject', 'tpl_nope', '--reason', 'x'])).toMatch(/TEMPLATE_NOT_FOUND/);
    expect(await fails(['templates', 'reject', approved.template_id, '--reason', 'Too late'])).toMatch(
      /^otpd: TEMPLATE_NOT_PENDING: .*approved/,
    );
    expect(await fails(['templates', 'reject', approved.template_id, '--reason', ' '])).toMatch(
      /INVALID_REQUEST: reason/,
    );
    expect(await fails(['templates', 'reject', approved.template_id])).toMatch(/--reason/);
    expect(await fails(['templates', 'list', '--status', 'live'])).toMatch(
      /pending, approved, rejected, deleted/,
    );
  });
});
