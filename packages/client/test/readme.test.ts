import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebhookReceiver } from '../../../test/support/webhook-receiver.js';
import { Otpd as Client } from '../src/index.js';
import { type Otpd, startOtpd, until } from './support/otpd.js';

/**
 * Every `<!-- snippet: name -->` TypeScript block of the README, type-checked
 * against the built package's .d.ts and run against a real otpd process
 * with the built package (`@otpd/client` → dist/index.js).
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dist = join(root, 'packages/client/dist/index.js');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const snippets = new Map(
  [...readme.matchAll(/<!-- snippet: ([\w-]+) -->\n```ts\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!]),
);

/** The README's `db`: an in-memory table of 2FA challenges. */
const FAKE_DB = `
export interface Challenge { userId: string; action: string; otpId: string; state: string; expiresAt: string }
export const rows = new Map<string, Challenge>();
export const db = {
  otpChallenge: {
    async create(challenge: Challenge) { rows.set(challenge.otpId, { ...challenge }); },
    async find(otpId: string) { return rows.get(otpId); },
    async update(otpId: string, patch: Partial<Challenge>) { Object.assign(rows.get(otpId) ?? {}, patch); },
  },
};
`;

interface Delivery {
  body: string;
  headers: Record<string, string>;
}

describe('README snippets', () => {
  let otpd: Otpd;
  let receiver: WebhookReceiver;
  let client: Client;
  let dir: string;
  /** Imports a snippet as the package's user would run it. */
  const run = <T = Record<string, unknown>>(name: string): Promise<T> => import(join(dir, `${name}.ts`));

  beforeAll(async () => {
    otpd = await startOtpd({ OTPD_WEBHOOK_ALLOW_PRIVATE: 'true' });
    receiver = await WebhookReceiver.start();
    const tenant = await otpd.tenant();
    const endpoint = await otpd.admin<{ secret: string }>('POST', `/apps/${tenant.appId}/webhooks`, {
      url: receiver.url('/otpd/events'),
    });
    process.env.OTPD_KEY = tenant.key;
    process.env.OTPD_URL = otpd.url;
    process.env.OTPD_WEBHOOK_SECRET = endpoint.secret;
    client = new Client({ apiKey: tenant.key, baseUrl: otpd.url });

    dir = mkdtempSync(join(tmpdir(), 'otpd-readme-'));
    writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
    writeFileSync(join(dir, 'db.ts'), FAKE_DB);
    for (const [name, code] of snippets)
      writeFileSync(join(dir, `${name}.ts`), code.replaceAll("'@otpd/client'", `'${dist}'`));
  });
  afterAll(async () => {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One OTP's event as the receiver got it: the body and the headers that matter (no content-length). */
  const deliveryOf = async (otpId: string, type: string): Promise<Delivery> => {
    const received = await until(`${type} of ${otpId}`, () =>
      receiver.received.find((r) => {
        const event = JSON.parse(r.body);
        return event.type === type && event.data.otp_id === otpId;
      }),
    );
    const names = [
      'content-type',
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
      'x-otpd-signature',
    ];
    return {
      body: received.body,
      headers: Object.fromEntries(names.map((name) => [name, received.headers[name]!])),
    };
  };

  it('has the snippets this test knows', () => {
    expect([...snippets.keys()].sort()).toEqual([
      'errors',
      'idempotency',
      'quickstart',
      'wallet',
      'webhook-server',
    ]);
  });

  it('type-checks every snippet against the built .d.ts', () => {
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023', 'DOM'],
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        allowImportingTsExtensions: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      include: ['*.ts'],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    } catch (error) {
      expect.fail(`README snippets do not type-check:\n${(error as { stdout: string }).stdout}`);
    }
  });

  it('quickstart: sends and verifies', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await run('quickstart');
      expect(log).toHaveBeenCalledWith(true);
    } finally {
      log.mockRestore();
    }
  });

  it('errors: tells the user what happened', async () => {
    const { checkCode } = await run<{ checkCode(otpId: string, input: string): Promise<string> }>('errors');
    const { otp_id } = await client.otp.send({ phone: '+9779846000001' });
    expect(await checkCode(otp_id, '000000')).toBe('Wrong code, 2 attempts left.');
    expect(await checkCode(otp_id, '123456')).toBe('Verified.');
    await expect(checkCode(otp_id, '123456')).rejects.toMatchObject({
      name: 'OtpdError',
      code: 'OTP_ALREADY_VERIFIED',
    });
    await client.otp.cancel((await client.otp.send({ phone: '+9779846000002' })).otp_id).then(async (otp) => {
      expect(await checkCode(otp.otp_id, '123456')).toBe(
        'This code can no longer be used: request a new one.',
      );
    });
  });

  it('idempotency: a repeated job sends one SMS', async () => {
    const template = await client.templates.create({
      name: 'Shipping',
      body: 'Your order {{order_id}} has shipped.',
      use_case: 'Shipping notices',
    });
    await otpd.admin('POST', `/templates/${template.template_id}/approve`);
    const { sendShippingNotice } = await run<{
      sendShippingNotice(orderId: string, phone: string, templateId: string): Promise<{ message_id: string }>;
    }>('idempotency');
    const first = await sendShippingNotice('A-100', '+9779846000003', template.template_id);
    const again = await sendShippingNotice('A-100', '+9779846000003', template.template_id);
    expect(again.message_id).toBe(first.message_id);
    const other = await sendShippingNotice('A-101', '+9779846000003', template.template_id);
    expect(other.message_id).not.toBe(first.message_id);
  });

  it('webhook-server: answers 204 to a real delivery and 400 to a forged one', async () => {
    process.env.PORT = '0';
    const { server, received } = await run<{ server: Server; received: string[] }>('webhook-server');
    try {
      await new Promise<void>((resolve) =>
        server.listening ? resolve() : server.once('listening', resolve),
      );
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const { otp_id } = await client.otp.send({ phone: '+9779846000004' });
      const delivery = await deliveryOf(otp_id, 'otp.sent');
      const post = (body: string) => fetch(url, { method: 'POST', headers: delivery.headers, body });
      expect((await post(delivery.body)).status).toBe(204);
      expect(received).toEqual([`otp.sent ${delivery.headers['webhook-id']}`]);
      expect((await post(delivery.body.replace(otp_id, 'otp_forged'))).status).toBe(400);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('wallet: a 2FA challenge from send to verified, driven by real webhooks', async () => {
    const wallet = await run<{
      sendWalletOtp(
        userId: string,
        phone: string,
        action: string,
      ): Promise<{ challengeId: string; expiresAt: string; resendAvailableAt: string | null }>;
      confirmWalletOtp(userId: string, challengeId: string, code: string): Promise<Record<string, unknown>>;
      POST(request: Request): Promise<Response>;
    }>('wallet');
    const { rows } = await run<{ rows: Map<string, { state: string; action: string }> }>('db');
    const webhook = (delivery: Delivery) =>
      wallet.POST(new Request('http://wallet.test/otpd/events', { method: 'POST', ...delivery }));

    const challenge = await wallet.sendWalletOtp('u_1', '+9779846000005', 'export_private_key');
    expect(challenge.challengeId).toMatch(/^otp_/);
    expect(rows.get(challenge.challengeId)).toMatchObject({ state: 'sending', action: 'export_private_key' });

    const sent = await deliveryOf(challenge.challengeId, 'otp.sent');
    const delivered = await deliveryOf(challenge.challengeId, 'otp.delivered');
    expect((await webhook(sent)).status).toBe(204);
    expect(rows.get(challenge.challengeId)!.state).toBe('sent');
    expect((await webhook(delivered)).status).toBe(204);
    expect(rows.get(challenge.challengeId)!.state).toBe('delivered');
    expect(
      (await webhook({ ...delivered, body: delivered.body.replace('delivered', 'failed') })).status,
    ).toBe(400);

    expect(await wallet.confirmWalletOtp('u_2', challenge.challengeId, '123456')).toEqual({
      ok: false,
      reason: 'UNKNOWN_CHALLENGE',
    });
    expect(await wallet.confirmWalletOtp('u_1', challenge.challengeId, '000000')).toEqual({
      ok: false,
      reason: 'INVALID_OTP',
      attemptsRemaining: 2,
    });
    expect(await wallet.confirmWalletOtp('u_1', challenge.challengeId, '123456')).toEqual({
      ok: true,
      action: 'export_private_key',
    });
    expect(rows.get(challenge.challengeId)!.state).toBe('verified');
    // A late (or repeated) delivery event does not undo the verification.
    expect((await webhook(delivered)).status).toBe(204);
    expect(rows.get(challenge.challengeId)!.state).toBe('verified');
  });
});
