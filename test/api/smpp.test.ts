import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Receipt } from '../../src/delivery/provider.js';
import { ProviderError } from '../../src/delivery/provider.js';
import { smppProvider } from '../../src/delivery/providers/smpp.js';
import { createHarness, type Harness } from '../harness.js';
import { type Submit, TestSmsc } from '../support/smsc.js';

/*
 * The smpp provider against a loopback SMSC, end to end: POST /v1/otp/send,
 * the worker submits over SMPP, the SMSC's receipts settle the message rows.
 * Three providers on one SMSC, each with its own account (an SMSC hands
 * receipts to any bind of the account) and its own route; a fourth account,
 * `solo`, serves the provider tested on its own:
 * - smsc:   the default route; window 4, sender IDs allowed;
 * - locked: +9779800…, a wrong password: every bind is refused;
 * - hasty:  +9779810…, a 1 s answer timeout and a window of 1.
 * The SMPP sessions run on real time; the worker's schedule on h.clock.
 */

const ACCOUNTS = { otpd: 'secret-1', locked: 'secret-2', hasty: 'secret-3', solo: 'secret-4' };
const smppSettings = (system_id: string, password: string) => ({
  type: 'smpp',
  host: '127.0.0.1',
  port: smsc.port,
  system_id,
  password,
  source_addr: 'OTPD',
  enquire_link: 1,
  reconnect_max: 0.2,
});

let smsc: TestSmsc;
let h: Harness;
beforeAll(async () => {
  smsc = await TestSmsc.start({
    accounts: ACCOUNTS,
    // Numbers ending in 99 are undeliverable.
    receiptStat: ({ destination_addr }) => (destination_addr.endsWith('99') ? 'UNDELIV' : 'DELIVRD'),
  });
  h = await createHarness({
    delivery: {
      // Unknown outcomes wait long for their receipt: the tests settle them by receipt or not at all.
      reconcile_after: 600,
      providers: {
        smsc: { ...smppSettings('otpd', ACCOUNTS.otpd), window: 4, timeout: 3, allow_sender_id: true },
        locked: { ...smppSettings('locked', 'wrong-password'), timeout: 2 },
        hasty: { ...smppSettings('hasty', ACCOUNTS.hasty), window: 1, timeout: 1 },
      },
      routes: [
        { channel: 'sms', prefixes: ['+9779800'], providers: ['locked'] },
        { channel: 'sms', prefixes: ['+9779810'], providers: ['hasty'] },
        { channel: 'sms', providers: ['smsc'] },
      ],
    },
  });
});
afterAll(async () => {
  await smsc.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(probe: () => Promise<T> | T, done: (value: T) => boolean, ms = 8000): Promise<T> {
  const until = Date.now() + ms;
  let value = await probe();
  while (!done(value) && Date.now() < until) {
    await sleep(20);
    value = await probe();
  }
  return value;
}

async function messageOf(otpId: string) {
  return h.ctx.store.db
    .selectFrom('messages')
    .selectAll()
    .where('otp_id', '=', otpId)
    .executeTakeFirstOrThrow();
}

const settled = (otpId: string) =>
  waitFor(
    () => messageOf(otpId),
    (m) => m.status === 'delivered' || m.status === 'failed',
  );

async function send(key: string, phone: string, extra: Record<string, unknown> = {}) {
  const res = await h.call('POST', '/v1/otp/send', { key, body: { phone, ...extra } });
  expect(res.status).toBe(201);
  return res.body.data.otp_id as string;
}

const submitsTo = (phone: string) => smsc.submits.filter((s) => s.destination_addr === phone.slice(1));
const utf16be = (text: string) => Buffer.from(text, 'utf16le').swap16();
const codeIn = (submit: Submit) => /\d{6}/.exec(submit.text)![0];

describe('smpp: submit and receipts', () => {
  it('submits an OTP that verifies, and settles its message with the DELIVRD receipt', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const otpId = await send(key, '+9779841000001');
    await h.deliver();

    const [submit, ...more] = submitsTo('+9779841000001');
    expect(more).toHaveLength(0);
    expect(submit).toMatchObject({
      system_id: 'otpd',
      source_addr: 'OTPD',
      source_addr_ton: 5,
      source_addr_npi: 0,
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      esm_class: 0,
      registered_delivery: 1,
      data_coding: 0,
      udh: null,
    });
    const code = codeIn(submit!);
    expect(submit!.text).toBe(`Your Test app verification code is ${code}. It expires in 5 minutes.`);
    // GSM-7 unpacked: these characters have the same octets as ASCII.
    expect(submit!.short_message.equals(Buffer.from(submit!.text, 'ascii'))).toBe(true);

    expect(await settled(otpId)).toMatchObject({
      status: 'delivered',
      provider: 'smsc',
      provider_message_id: submit!.message_id,
      segments: 1,
    });
    expect((await h.call('GET', `/v1/otp/${otpId}`, { key })).body.data.status).toBe('pending');
    const verified = await h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code } });
    expect(verified.body.data.status).toBe('verified');
  });

  it('fails the message on an UNDELIV receipt, read from the TLVs as well as the text', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const byText = await send(key, '+9779841000199');
    await h.deliver();
    expect(await settled(byText)).toMatchObject({ status: 'failed', error: 'UNDELIV err:001' });

    smsc.receiptTlvs = true;
    try {
      const byTlv = await send(key, '+9779841000299');
      const fine = await send(key, '+9779841000201');
      await h.deliver();
      expect(await settled(byTlv)).toMatchObject({ status: 'failed', error: 'UNDELIV err:001' });
      expect(await settled(fine)).toMatchObject({ status: 'delivered' });
    } finally {
      smsc.receiptTlvs = false;
    }
    // Nothing else can reach the user (no fallback channel): the OTP ends failed.
    expect((await h.call('GET', `/v1/otp/${byText}`, { key })).body.data.status).toBe('failed');
  });

  it('sends Nepali, Vietnamese and Arabic as UCS-2, byte for byte', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const templates = {
      '+9779841000011': 'तपाईंको कोड {code} हो',
      '+9779841000012': 'Mã của bạn là {code}',
      '+9779841000013': 'رمز التحقق الخاص بك هو {code}',
    };
    const otps = await Promise.all(
      Object.entries(templates).map(([phone, message]) => send(key, phone, { message })),
    );
    await h.deliver();
    for (const [phone, template] of Object.entries(templates)) {
      const [submit, ...more] = submitsTo(phone);
      expect(more).toHaveLength(0);
      const expected = template.replace('{code}', codeIn(submit!));
      expect(submit).toMatchObject({ data_coding: 8, esm_class: 0, udh: null, text: expected });
      expect(submit!.short_message.equals(utf16be(expected))).toBe(true);
    }
    for (const otpId of otps)
      expect(await settled(otpId)).toMatchObject({ status: 'delivered', segments: 1 });
  });

  it('sends GSM 03.38 extension characters as escape pairs', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const otpId = await send(key, '+9779841000021', { message: '[{code}] costs 5€ @ £1 ~ é^|\\{}' });
    await h.deliver();
    const [submit] = submitsTo('+9779841000021');
    const code = codeIn(submit!);
    const ascii = (s: string) => [...Buffer.from(s, 'ascii')];
    const expected = Buffer.from([
      ...[0x1b, 0x3c], // [
      ...ascii(code),
      ...[0x1b, 0x3e], // ]
      ...ascii(' costs 5'),
      ...[0x1b, 0x65], // €
      ...[0x20, 0x00, 0x20], // ' @ '
      ...[0x01, 0x31, 0x20], // '£1 '
      ...[0x1b, 0x3d, 0x20], // '~ '
      0x05, // é
      ...[0x1b, 0x14], // ^
      ...[0x1b, 0x40], // |
      ...[0x1b, 0x2f], // \
      ...[0x1b, 0x28], // {
      ...[0x1b, 0x29], // }
    ]);
    expect(submit).toMatchObject({ data_coding: 0, text: `[${code}] costs 5€ @ £1 ~ é^|\\{}` });
    expect(submit!.short_message.equals(expected)).toBe(true);
    expect(await settled(otpId)).toMatchObject({ status: 'delivered', segments: 1 });
  });

  it('splits long texts with a concatenation header, never inside an escape pair or a character', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    // GSM-7: 145 + 1 + 6 = 152 septets, then € (two septets) must open part two.
    const gsmTemplate = `${'a'.repeat(145)} {code}€ and the rest of it.`;
    const nepaliTemplate = `तपाईंको कोड {code} हो। ${'यो कोड कसैलाई नदिनुहोस्। '.repeat(5)}`;
    const gsmOtp = await send(key, '+9779841000031', { message: gsmTemplate });
    const nepaliOtp = await send(key, '+9779841000032', { message: nepaliTemplate });
    await h.deliver();

    const gsmParts = submitsTo('+9779841000031');
    const code = codeIn(gsmParts[0]!);
    const gsmText = gsmTemplate.replace('{code}', code);
    expect(gsmParts).toHaveLength(2);
    const reference = gsmParts[0]!.concat!.reference;
    gsmParts.forEach((part, i) => {
      expect(part).toMatchObject({ data_coding: 0, esm_class: 0x40 });
      expect([...part.udh!]).toEqual([0x05, 0x00, 0x03, reference, 2, i + 1]);
    });
    expect(gsmParts[0]!.body).toHaveLength(152);
    expect([...gsmParts[1]!.body.subarray(0, 2)]).toEqual([0x1b, 0x65]);
    expect(
      Buffer.concat(gsmParts.map((p) => p.body)).equals(
        Buffer.concat([
          Buffer.from(gsmText.replace('€', ''), 'ascii').subarray(0, 152),
          Buffer.of(0x1b, 0x65),
          Buffer.from(' and the rest of it.', 'ascii'),
        ]),
      ),
    ).toBe(true);

    const nepaliParts = submitsTo('+9779841000032');
    const nepaliText = nepaliTemplate.replace('{code}', codeIn(nepaliParts[0]!));
    expect(nepaliParts).toHaveLength(Math.ceil(nepaliText.length / 67));
    nepaliParts.forEach((part, i) => {
      expect(part).toMatchObject({ data_coding: 8, esm_class: 0x40 });
      expect([...part.udh!]).toEqual([
        0x05,
        0x00,
        0x03,
        nepaliParts[0]!.concat!.reference,
        nepaliParts.length,
        i + 1,
      ]);
      expect(part.body.length).toBeLessThanOrEqual(134);
    });
    expect(Buffer.concat(nepaliParts.map((p) => p.body)).equals(utf16be(nepaliText))).toBe(true);
    expect(smsc.messages().find((m) => m.destination === '9779841000032')!.text).toBe(nepaliText);

    // Every part's receipt came; the later parts' did not disturb the first's.
    expect(await settled(gsmOtp)).toMatchObject({
      status: 'delivered',
      segments: 2,
      provider_message_id: gsmParts[0]!.message_id,
    });
    expect(await settled(nepaliOtp)).toMatchObject({
      status: 'delivered',
      segments: nepaliParts.length,
      provider_message_id: nepaliParts[0]!.message_id,
    });
  });

  it("uses the message's sender ID when allowed, with the TON/NPI of its shape", async () => {
    const { key } = await h.tenant({ environment: 'live' });
    await send(key, '+9779841000041', { sender_id: 'MyBank' });
    await send(key, '+9779841000042', { sender_id: '+15550100' });
    await h.deliver();
    expect(submitsTo('+9779841000041')[0]).toMatchObject({
      source_addr: 'MyBank',
      source_addr_ton: 5,
      source_addr_npi: 0,
    });
    expect(submitsTo('+9779841000042')[0]).toMatchObject({
      source_addr: '15550100',
      source_addr_ton: 1,
      source_addr_npi: 1,
    });
  });

  it('keeps at most `window` submits unanswered per bind', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phones = Array.from({ length: 7 }, (_, i) => `+97798410005${i}0`);
    const otps = await Promise.all(phones.map((phone) => send(key, phone)));
    smsc.maxUnanswered = 0;
    smsc.hold({ receipts: true });
    const delivering = h.deliver();
    const held = () => phones.flatMap(submitsTo).length;
    expect(await waitFor(held, (n) => n >= 4)).toBe(4);
    await sleep(100);
    expect(held()).toBe(4);
    smsc.release();
    await delivering;
    expect(held()).toBe(7);
    expect(smsc.maxUnanswered).toBe(4);
    for (const otpId of otps) expect(await settled(otpId)).toMatchObject({ status: 'delivered' });
  });
});

describe('smpp: failures', () => {
  it('retries a throttled or queue-full message later, and fails a refused destination at once', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    smsc.throttle(1);
    const throttled = await send(key, '+9779841000061');
    await h.deliver();
    expect(await messageOf(throttled)).toMatchObject({ status: 'queued', provider_message_id: null });
    expect((await messageOf(throttled)).error).toContain('ESME_RTHROTTLED');

    smsc.refuse(1, 0x14);
    h.clock.advance(3);
    await h.deliver();
    expect((await messageOf(throttled)).error).toContain('ESME_RMSGQFUL');

    h.clock.advance(11);
    await h.deliver();
    expect(await settled(throttled)).toMatchObject({ status: 'delivered' });
    const attempts = submitsTo('+9779841000061');
    expect(attempts.map((s) => s.answered)).toEqual([0x58, 0x14, 0]);
    expect(smsc.count('9779841000061', attempts[2]!.text)).toBe(1);

    smsc.refuse(1, 0x0b);
    const refused = await send(key, '+9779841000062');
    await h.deliver();
    expect(await messageOf(refused)).toMatchObject({ status: 'failed' });
    expect((await messageOf(refused)).error).toContain('ESME_RINVDSTADR');
  });

  it('sends nothing while the SMSC refuses the bind, and keeps trying to bind with backoff', async () => {
    const locked = h.delivery.providers.get('locked')!;
    expect(locked.health!()).toMatchObject({ ok: false, detail: expect.stringContaining('ESME_RBINDFAIL') });
    const attemptsBefore = smsc.bindAttempts.filter((a) => a.system_id === 'locked').length;

    const { key } = await h.tenant({ environment: 'live' });
    const otpId = await send(key, '+9779800000001');
    const started = performance.now();
    await h.deliver();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await messageOf(otpId)).toMatchObject({ status: 'queued', provider_message_id: null });
    expect((await messageOf(otpId)).error).toContain('Not bound');

    for (let round = 0; round < 4; round++) {
      h.clock.advance(60);
      await h.deliver();
    }
    expect(await messageOf(otpId)).toMatchObject({ status: 'failed' });
    expect(smsc.submits.filter((s) => s.system_id === 'locked')).toHaveLength(0);
    await sleep(300);
    const attempts = smsc.bindAttempts.filter((a) => a.system_id === 'locked');
    expect(attempts.length).toBeGreaterThan(attemptsBefore);
    expect(attempts.every((a) => !a.ok)).toBe(true);
  });

  it('records an unanswered submit as unknown, never sends it again, and lets a later receipt settle it by phone', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    smsc.hold({ receipts: true });
    const otpId = await send(key, '+9779810000001');
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'unknown',
      provider: 'hasty',
      provider_message_id: null,
    });
    expect((await messageOf(otpId)).error).toContain('submit_sm_resp');

    h.clock.advance(60);
    await h.deliver();
    expect(submitsTo('+9779810000001')).toHaveLength(1);
    // The receipt's id was never answered to us: the phone number matches it.
    expect(await settled(otpId)).toMatchObject({ status: 'delivered' });
    // The receipt is also the news that it was sent (otp.sent for webhooks).
    const log = await h.call('GET', `/v1/logs?otp_id=${otpId}`, { key });
    expect(log.body.data.items.map((e: { type: string }) => e.type)).toEqual([
      'message.delivered',
      'message.sent',
      'otp.created',
    ]);
    smsc.release();
    // Seconds have passed: the binds kept their links alive meanwhile.
    expect(smsc.enquireLinks.get('hasty')).toBeGreaterThan(0);
    expect(smsc.binds('hasty')).toBe(1);
  });

  it('takes a late submit_sm_resp as the answer: the message is sent, with its id', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    smsc.hold({ receipts: false });
    const otpId = await send(key, '+9779810000002');
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({ status: 'unknown' });
    smsc.release({ receipts: false });
    const [submit] = submitsTo('+9779810000002');
    const answered = await waitFor(
      () => messageOf(otpId),
      (m) => m.status !== 'unknown',
      2000,
    );
    expect(answered).toMatchObject({ status: 'sent', provider_message_id: submit!.message_id });
  });

  it('rebinds after the link dies mid-stream; every message gets through once', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phones = Array.from({ length: 5 }, (_, i) => `+97798100001${i}0`);
    const otps = await Promise.all(phones.map((phone) => send(key, phone)));
    const bindsBefore = smsc.bindAttempts.filter((a) => a.system_id === 'hasty').length;
    smsc.dropLinkAt(3);
    await h.deliver();
    const statuses = await Promise.all(otps.map(async (id) => (await messageOf(id)).status));
    // Two went before the cut, the third was out when it came (unknown), the
    // rest found no bind (retry later; unless the rebind was faster).
    expect(statuses.filter((s) => s === 'sent' || s === 'delivered').length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 'unknown')).toHaveLength(1);
    expect(statuses.every((s) => ['sent', 'delivered', 'unknown', 'queued'].includes(s))).toBe(true);

    const hasty = h.delivery.providers.get('hasty')!;
    expect(
      await waitFor(
        () => hasty.health!().ok,
        (ok) => ok,
        3000,
      ),
    ).toBe(true);
    expect(smsc.bindAttempts.filter((a) => a.system_id === 'hasty').length).toBeGreaterThan(bindsBefore);
    h.clock.advance(3);
    await h.deliver();

    for (const otpId of otps) expect(await settled(otpId)).toMatchObject({ status: 'delivered' });
    for (const phone of phones) {
      const accepted = submitsTo(phone).filter((s) => s.message_id !== null);
      expect(accepted).toHaveLength(1);
      expect(smsc.count(phone.slice(1), accepted[0]!.text)).toBe(1);
    }
  });
});

describe('smpp: the provider on its own', () => {
  const deps = (sink: (r: Receipt) => Promise<void>) => ({
    receipts: sink,
    log: pino({ level: 'silent' }),
    callbackUrl: null,
    now: () => Date.now(),
    sign: (v: string) => v,
    verify: () => false,
  });
  const collect = (receipts: Receipt[]) =>
    deps(async (r) => {
      receipts.push(r);
    });
  const settings = (port: number, system_id: string, more: Record<string, unknown> = {}) => ({
    type: 'smpp',
    host: '127.0.0.1',
    port,
    system_id,
    password: ACCOUNTS[system_id as keyof typeof ACCOUNTS],
    source_addr: 'OTPD',
    allow_sender_id: false,
    binds: 1,
    window: 10,
    enquire_link: 30,
    reconnect_max: 0.2,
    timeout: 2,
    ...more,
  });
  const message = {
    id: 'msg_alone',
    app_id: 'app_x',
    otp_id: null,
    environment: 'live' as const,
    channel: 'sms' as const,
    phone: '+9779841000901',
    sender_id: null,
    text: 'Your code is 482913',
    code: '482913',
    locale: null,
  };

  it("reports a concatenated message's receipts under its first part's id: a later part only when it fails", async () => {
    // Receipts right behind the answers, often in the same read.
    const fast = await TestSmsc.start({
      accounts: ACCOUNTS,
      receiptDelayMs: 0,
      receiptStat: ({ destination_addr, concat }) =>
        destination_addr.endsWith('33') ? (concat?.index === 2 ? 'UNDELIV' : 'ENROUTE') : 'DELIVRD',
    });
    const receipts: Receipt[] = [];
    const provider = smppProvider.create('solo', settings(fast.port, 'solo'), collect(receipts));
    await provider.start!();
    try {
      const text = `Your code is 482913. ${'x'.repeat(200)}`;
      const delivered = await provider.send({ ...message, phone: '+9779841000931', text });
      const failing = await provider.send({ ...message, phone: '+9779841000933', text });
      expect(delivered.segments).toBe(2);
      expect(failing.segments).toBe(2);
      await waitFor(
        () => receipts.length,
        (n) => n >= 3,
        3000,
      );
      await sleep(200);
      const seen = receipts.map((r) => ({
        id: r.provider_message_id,
        status: r.status,
        error: r.error,
        phone: r.phone,
      }));
      expect(seen).toHaveLength(3);
      expect(seen).toEqual(
        expect.arrayContaining([
          { id: delivered.provider_message_id, status: 'delivered', error: null, phone: '+9779841000931' },
          { id: failing.provider_message_id, status: 'sent', error: null, phone: '+9779841000933' },
          {
            id: failing.provider_message_id,
            status: 'failed',
            error: 'UNDELIV err:001',
            phone: '+9779841000933',
          },
        ]),
      );
      // Mobile-originated messages are answered and ignored.
      expect(await fast.sendMo('solo', '9779841000931', 'STOP')).toBe(0);
      await sleep(50);
      expect(receipts).toHaveLength(3);
    } finally {
      await provider.close!();
      await fast.close();
    }
  });

  it('keeps to `throughput` messages per second per bind, also when tokens are taken ahead with ready()', async () => {
    const receipts: Receipt[] = [];
    const provider = smppProvider.create(
      'solo',
      settings(smsc.port, 'solo', { throughput: 20 }),
      collect(receipts),
    );
    await provider.start!();
    try {
      const from = smsc.submits.length;
      // As the worker does: wait until ready, then send; and plain sends besides.
      await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          if (i % 2 === 0) await provider.ready!();
          return provider.send({ ...message, phone: `+9779841009${String(i).padStart(2, '0')}0` });
        }),
      );
      const got = smsc.submits.slice(from);
      expect(got).toHaveLength(12);
      // A burst of two (a tenth of a second's worth), then one every 50 ms.
      const span = got.at(-1)!.at - got[0]!.at;
      expect(span).toBeGreaterThanOrEqual(450);
      expect(span).toBeLessThan(1500);
      expect(provider.concurrency).toBe(10);
      expect(
        await waitFor(
          () => receipts.length,
          (n) => n === 12,
          3000,
        ),
      ).toBe(12);
    } finally {
      await provider.close!();
    }
  });

  it('answers a receipt only once it is recorded: one the sink could not take comes again', async () => {
    const taken: Receipt[] = [];
    let refusals = 0;
    const provider = smppProvider.create(
      'solo',
      settings(smsc.port, 'solo'),
      deps(async (r) => {
        if (refusals++ === 0) throw new Error('database unavailable');
        taken.push(r);
      }),
    );
    await provider.start!();
    try {
      const sent = await provider.send({ ...message, phone: '+9779841000941' });
      expect(
        await waitFor(
          () => taken.length,
          (n) => n === 1,
          3000,
        ),
      ).toBe(1);
      expect(refusals).toBe(2);
      expect(taken[0]).toMatchObject({ provider_message_id: sent.provider_message_id, status: 'delivered' });
    } finally {
      await provider.close!();
    }
  });

  it('starts without an SMSC, refuses sends quickly with retry, binds once the SMSC is there, and unbinds on close', async () => {
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const provider = smppProvider.create('solo', settings(port, 'solo', { binds: 2 }), collect([]));
    await provider.start!();
    expect(provider.health!().ok).toBe(false);
    const started = performance.now();
    const error = await provider.send(message).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).kind).toBe('retry');
    expect(performance.now() - started).toBeLessThan(100);

    // The SMSC comes up on that port: both binds find it.
    const late = await TestSmsc.start({ accounts: ACCOUNTS, port });
    try {
      const health = await waitFor(
        () => provider.health!(),
        (h) => h.detail === '2 of 2 binds up',
        3000,
      );
      expect(health).toEqual({ ok: true, detail: '2 of 2 binds up' });
      expect(late.binds('solo')).toBe(2);
      expect(await provider.send(message)).toMatchObject({ status: 'sent', segments: 1 });
      await provider.close!();
      expect(late.binds('solo')).toBe(0);
      const attempts = late.bindAttempts.length;
      await sleep(400);
      expect(late.bindAttempts).toHaveLength(attempts);
    } finally {
      await late.close();
    }
  });
});
