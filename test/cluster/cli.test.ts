import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InitResult } from '../../src/tenancy/init.js';
import { freshDatabaseUrl, http, SECRET, startProcess } from '../harness.js';

/**
 * The built command line (`npm run build` first), run as a user would run it,
 * against a fresh database of the project's backend.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'otpd-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** The environment of a user's shell: none of otpd's settings but those given. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(OTPD_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|REDIS_URL$)/.test(name)) continue;
    env[name] = value;
  }
  return { ...env, OTPD_SECRET: SECRET, OTPD_DATA_DIR: dataDir, ...extra };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function otpd(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/cli/main.js', ...args],
      { env: cleanEnv(env), timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a command that must succeed and print JSON. */
async function json(args: string[], env: Record<string, string>): Promise<any> {
  const run = await otpd(args, env);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

/** Runs a command that must fail with one line on stderr. */
async function fails(args: string[], env: Record<string, string>): Promise<string> {
  const run = await otpd(args, env);
  expect(run.code).not.toBe(0);
  expect(run.stdout).toBe('');
  const line = run.stderr.replace(/\n$/, '');
  expect(line).not.toContain('\n');
  expect(line).toMatch(/^otpd: /);
  return line;
}

let db: Record<string, string>;
beforeAll(async () => {
  db = { DATABASE_URL: await freshDatabaseUrl() };
});

describe('otpd migrate', () => {
  it('brings a fresh database up to date, and again without change', async () => {
    for (let i = 0; i < 2; i++) {
      const run = await otpd(['migrate'], db);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/up to date/);
    }
  });
});

describe('otpd init', () => {
  let first: InitResult;

  it('prints exactly the operator token, account, apps and keys on a fresh database', async () => {
    first = await json(['init', '--json'], db);
    expect(Object.keys(first).sort()).toEqual(
      ['account_id', 'admin_token', 'live_app_id', 'live_key', 'sandbox_app_id', 'sandbox_key'].sort(),
    );
    expect(first.admin_token).toMatch(/^otpd_admin_[0-9A-Za-z]{40}$/);
    expect(first.account_id).toMatch(/^acc_/);
    expect(first.sandbox_app_id).toMatch(/^app_/);
    expect(first.live_app_id).toMatch(/^app_/);
    expect(first.sandbox_key).toMatch(/^otpd_test_[0-9A-Za-z]{36}$/);
    expect(first.live_key).toMatch(/^otpd_live_[0-9A-Za-z]{36}$/);
  });

  it('changes nothing when run again and says the secrets were shown once', async () => {
    const before = await json(['apps', 'list'], db);
    const again = await otpd(['init', '--json'], db);
    expect(again.code).toBe(0);
    const answer = JSON.parse(again.stdout);
    expect(answer.initialized).toBe(false);
    expect(answer.message).toMatch(/shown once/);
    expect(again.stdout).not.toContain(first.admin_token);
    expect(again.stdout).not.toContain(first.sandbox_key);

    const text = await otpd(['init'], db);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/shown once/);
    expect(await json(['apps', 'list'], db)).toEqual(before);
    expect((await json(['keys', 'list', first.sandbox_app_id], db)).length).toBe(1);
  });

  it('made a sandbox and a live app in one account, each with its one key', async () => {
    const sandbox = await json(['apps', 'get', first.sandbox_app_id], db);
    const live = await json(['apps', 'get', first.live_app_id], db);
    expect(sandbox).toMatchObject({ account_id: first.account_id, environment: 'sandbox' });
    expect(live).toMatchObject({ account_id: first.account_id, environment: 'live' });
    const [sandboxKey] = await json(['keys', 'list', first.sandbox_app_id], db);
    expect(sandboxKey.display).toBe(`${first.sandbox_key.slice(0, 14)}…${first.sandbox_key.slice(-4)}`);
  });

  it('printed an operator token and keys that a server accepts', async () => {
    // No OTPD_ADMIN_TOKEN: the token init made is then the operator token.
    const server = await startProcess(db.DATABASE_URL!, { OTPD_DATA_DIR: dataDir, OTPD_ADMIN_TOKEN: '' });
    try {
      const accounts = await http(`${server.url}/admin/v1/accounts`, 'GET', { key: first.admin_token });
      expect(accounts.status).toBe(200);
      expect(accounts.body.data.items.map((a: { id: string }) => a.id)).toContain(first.account_id);
      const sent = await http(`${server.url}/v1/otp/send`, 'POST', {
        key: first.sandbox_key,
        body: { phone: '+9779841600001' },
      });
      expect(sent.status).toBe(201);
      const verified = await http(`${server.url}/v1/otp/verify`, 'POST', {
        key: first.sandbox_key,
        body: { otp_id: sent.body.data.otp_id, code: '123456' },
      });
      expect(verified.body.data.verified).toBe(true);
      expect((await http(`${server.url}/v1/otp`, 'GET', { key: first.live_key })).status).toBe(200);
      // The serve command found the database set up and printed no new secrets.
      expect(server.output()).not.toMatch(/First run/);
    } finally {
      await server.stop();
    }
  });

  it('adopts OTPD_ADMIN_TOKEN as the operator token', async () => {
    const other = {
      DATABASE_URL: await freshDatabaseUrl(),
      OTPD_ADMIN_TOKEN: 'an-operator-token-chosen-by-the-operator',
    };
    const result = await json(['init', '--json'], other);
    expect(result.admin_token).toBe('an-operator-token-chosen-by-the-operator');
  });
});

describe('otpd accounts, apps and keys', () => {
  it('creates, lists and reads accounts', async () => {
    const created = await json(['accounts', 'create', 'Acme Shop', '--email', 'ops@acme.test'], db);
    expect(created).toMatchObject({ name: 'Acme Shop', email: 'ops@acme.test', balance: 0, currency: 'USD' });
    expect(created.id).toMatch(/^acc_/);
    const list = await json(['accounts', 'list'], db);
    expect(list.items.map((a: { id: string }) => a.id)).toContain(created.id);
    expect(await json(['accounts', 'get', created.id], db)).toEqual(created);
  });

  it('creates, reads and updates apps', async () => {
    const account = await json(['accounts', 'create', 'Apps'], db);
    const sandbox = await json(['apps', 'create', account.id, 'Checkout'], db);
    expect(sandbox).toMatchObject({
      account_id: account.id,
      name: 'Checkout',
      environment: 'sandbox',
      code_length: 6,
    });
    const live = await json(
      ['apps', 'create', account.id, 'Login', '--live', '--policy', '{"code_length":8,"max_attempts":5}'],
      db,
    );
    expect(live).toMatchObject({ environment: 'live', code_length: 8, max_attempts: 5 });
    expect(await json(['apps', 'get', live.id], db)).toEqual(live);

    const updated = await json(['apps', 'update', sandbox.id, '{"expiry":600,"channels":["sms"]}'], db);
    expect(updated).toMatchObject({ expiry: 600, channels: ['sms'], default_channel: 'sms', code_length: 6 });
    const listed = await json(['apps', 'list', '--account', account.id], db);
    expect(listed.items.map((a: { id: string }) => a.id).sort()).toEqual([sandbox.id, live.id].sort());
  });

  it('refuses a policy out of bounds with one line naming the field', async () => {
    const account = await json(['accounts', 'create', 'Bounds'], db);
    const app = await json(['apps', 'create', account.id, 'Bounded'], db);
    const line = await fails(['apps', 'update', app.id, '{"code_length":9}'], db);
    expect(line).toMatch(/INVALID_REQUEST/);
    expect(line).toMatch(/code_length/);
    expect(await fails(['apps', 'update', app.id, '{"message":"no code here"}'], db)).toMatch(/\{code\}/);
    expect(await fails(['apps', 'update', app.id, '{not json'], db)).toMatch(/JSON/);
    expect((await json(['apps', 'get', app.id], db)).code_length).toBe(6);
  });

  it('creates keys with the secret once, lists them without it, and revokes them', async () => {
    const account = await json(['accounts', 'create', 'Keys'], db);
    const app = await json(['apps', 'create', account.id, 'Keyed', '--live'], db);
    const created = await json(['keys', 'create', app.id], db);
    expect(created.secret).toMatch(/^otpd_live_/);
    expect(created.id).toMatch(/^key_/);

    const run = await otpd(['keys', 'list', app.id], db);
    expect(run.stdout).not.toContain(created.secret);
    const [listed] = JSON.parse(run.stdout);
    expect(listed).toMatchObject({ id: created.id, display: created.display, revoked_at: null });
    expect(listed.secret).toBeUndefined();

    const revoked = await json(['keys', 'revoke', created.id], db);
    expect(revoked.revoked_at).toEqual(expect.any(String));
    expect((await json(['keys', 'list', app.id], db))[0].revoked_at).toBe(revoked.revoked_at);
  });

  it('refuses a fourth active key', async () => {
    const account = await json(['accounts', 'create', 'Limit'], db);
    const app = await json(['apps', 'create', account.id, 'Three keys'], db);
    for (let i = 0; i < 3; i++) await json(['keys', 'create', app.id], db);
    expect(await fails(['keys', 'create', app.id], db)).toMatch(/API_KEY_LIMIT_REACHED/);
  });

  it('answers unknown ids with a one-line NOT_FOUND', async () => {
    const commands = [
      ['accounts', 'get', 'acc_nope'],
      ['apps', 'get', 'app_nope'],
      ['apps', 'update', 'app_nope', '{"expiry":600}'],
      ['apps', 'create', 'acc_nope', 'Orphan'],
      ['keys', 'create', 'app_nope'],
      ['keys', 'revoke', 'key_nope'],
    ];
    const lines = await Promise.all(commands.map((args) => fails(args, db)));
    for (const [i, line] of lines.entries()) expect(line, commands[i]!.join(' ')).toMatch(/NOT_FOUND/);
  });
});

describe('settings', () => {
  it('exits non-zero on a bad setting with one line naming it', async () => {
    const cases: [Record<string, string>, string[], string][] = [
      [{ PORT: 'abc' }, ['serve'], 'PORT'],
      [{ PORT: '99999' }, ['migrate'], 'PORT'],
      [{}, ['--port', 'abc', 'serve'], '--port'],
      [{ LOG_LEVEL: 'chatty' }, ['serve'], 'LOG_LEVEL'],
      [{ OTPD_SECRET: 'short' }, ['migrate'], 'OTPD_SECRET'],
      [{ OTPD_ADMIN_TOKEN: 'short' }, ['init', '--json'], 'OTPD_ADMIN_TOKEN'],
      [{ DATABASE_URL: 'mysql://root@localhost/otpd' }, ['migrate'], 'DATABASE_URL'],
      [{ OTPD_WORKERS: 'sometimes' }, ['serve'], 'OTPD_WORKERS'],
    ];
    const lines = await Promise.all(cases.map(([env, args]) => fails(args, { ...db, ...env })));
    for (const [i, line] of lines.entries()) expect(line, JSON.stringify(cases[i])).toContain(cases[i]![2]);
  });

  it('creates a fresh data directory and its database when OTPD_SECRET is given', async () => {
    const fresh = join(dataDir, 'fresh', 'data');
    const run = await otpd(['migrate'], { OTPD_DATA_DIR: fresh });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(existsSync(join(fresh, 'otpd.db'))).toBe(true);
    expect(existsSync(join(fresh, 'secret'))).toBe(false);
  });
});
