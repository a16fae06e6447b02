import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabaseUrl, SECRET } from '../harness.js';

/** `otpd wallet …` and `otpd prices …` from the built CLI (`npm run build` first). */

const dataDir = mkdtempSync(join(tmpdir(), 'otpd-wallet-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

let databaseUrl: string;
beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
});

function otpd(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(OTPD_|DATABASE_URL$|LOG_LEVEL$)/.test(name)) env[name] = value;
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/cli/main.js', ...args],
      {
        env: { ...env, OTPD_SECRET: SECRET, OTPD_DATA_DIR: dataDir, DATABASE_URL: databaseUrl },
        timeout: 30_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function json(...args: string[]): Promise<any> {
  const run = await otpd(...args);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

describe('otpd wallet and otpd prices', () => {
  it('sets prices, tops up once per reference, adjusts, and shows the balance and ledger', async () => {
    const account = await json('accounts', 'create', 'CLI wallet', '--currency', 'NPR');
    expect(await json('prices', 'set', 'sms', 'NP', '350000', '--currency', 'NPR')).toMatchObject({
      currency: 'NPR',
      channel: 'sms',
      country: 'NP',
      price: 350_000,
      unit: 'segment',
    });
    await json('prices', 'set', 'whatsapp', '*', '200000', '--currency', 'NPR');
    expect(
      (await json('prices', 'list', '--currency', 'NPR')).map((p: { channel: string }) => p.channel),
    ).toEqual(['sms', 'whatsapp']);
    expect(await json('prices', 'delete', 'whatsapp', '*', '--currency', 'NPR')).toEqual({ deleted: true });

    const first = await json(
      'wallet',
      'topup',
      account.id,
      '5000000',
      '--reference',
      'esewa-1',
      '--note',
      'eSewa',
    );
    expect(first).toMatchObject({
      type: 'topup',
      amount: 5_000_000,
      balance_after: 5_000_000,
      note: 'eSewa',
    });
    expect(await json('wallet', 'topup', account.id, '5000000', '--reference', 'esewa-1')).toEqual(first);
    expect(await json('wallet', 'adjust', account.id, '-1000000', '--reference', 'fix-1')).toMatchObject({
      type: 'adjustment',
      amount: -1_000_000,
      balance_after: 4_000_000,
    });
    expect(await json('wallet', 'threshold', account.id, '500000')).toMatchObject({
      low_balance_threshold: 500_000,
    });
    expect(await json('wallet', 'balance', account.id)).toEqual({
      account_id: account.id,
      balance: 4_000_000,
      currency: 'NPR',
      held: 0,
      low_balance_threshold: 500_000,
    });
    const ledger = await json('wallet', 'ledger', account.id);
    expect(ledger.items.map((e: { type: string }) => e.type)).toEqual(['adjustment', 'topup']);

    const tooMuch = await otpd('wallet', 'adjust', account.id, '-9000000', '--reference', 'fix-2');
    expect(tooMuch.code).toBe(2);
    expect(tooMuch.stderr).toMatch(/^otpd: INSUFFICIENT_BALANCE: /);
    const noReference = await otpd('wallet', 'topup', account.id, '1');
    expect(noReference.code).not.toBe(0);
    expect(noReference.stderr).toMatch(/--reference/);
  });

  it('shows and changes the wallet settings', async () => {
    expect(await json('wallet', 'settings')).toMatchObject({
      capture_on: 'delivered',
      no_receipt: 'capture',
    });
    expect(
      await json(
        'wallet',
        'settings',
        '--capture-on',
        'sent',
        '--capture-after',
        '7200',
        '--when-no-receipt',
        'release',
      ),
    ).toMatchObject({ capture_on: 'sent', capture_after: 7200, no_receipt: 'release', trial_otps: 0 });
    const bad = await otpd('wallet', 'settings', '--capture-on', 'queued');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/One of delivered, sent/);
  });
});
