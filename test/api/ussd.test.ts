import { Writable } from 'node:stream';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppPolicy } from '../../src/core/policy.js';
import { checkUssdGateway, SCREENS } from '../../src/delivery/ussd.js';
import { changeApp } from '../../src/tenancy/apps.js';
import { codeFromInbox, createHarness, type Harness } from '../harness.js';

const USSD_SECRET = 'ussd-secret-0123456789abcdef';
const SERVICE_CODE = '*384*123#';

let h: Harness;
let logged = '';
beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logged += chunk;
      done();
    },
  });
  h = await createHarness({
    delivery: { providers: {}, ussd: { secret: USSD_SECRET, service_code: SERVICE_CODE } },
    logger: pino({ level: 'info' }, sink),
  });
});

let sessions = 0;

/** The gateway's fields; `undefined` leaves one out. */
type Dial = Record<string, unknown>;

/** One step of a USSD session, posted as the gateway posts it (form-encoded unless `json`). */
async function dial(
  fields: Dial,
  options: {
    harness?: Harness;
    json?: boolean;
    secret?: string | null;
    query?: string;
    remoteAddress?: string;
  } = {},
) {
  const body: Record<string, unknown> = {
    sessionId: `ATUid_${++sessions}`,
    serviceCode: SERVICE_CODE,
    text: '',
    ...fields,
  };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  const secret = options.secret === undefined ? USSD_SECRET : options.secret;
  const res = await (options.harness ?? h).server.inject({
    method: 'POST',
    url: `/ussd${options.query ?? ''}`,
    headers: {
      'content-type': options.json ? 'application/json' : 'application/x-www-form-urlencoded',
      ...(secret === null ? {} : { 'x-ussd-secret': secret }),
    },
    payload: options.json
      ? JSON.stringify(body)
      : new URLSearchParams(body as Record<string, string>).toString(),
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
  });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: res.body, res };
}

/** A live app (named `name`) sends a code to `phone`; answers the OTP id and the code from the inbox. */
async function sendCode(phone: string, name = 'Acme', policy: Partial<AppPolicy> = {}) {
  const { app, key } = await h.tenant({ environment: 'live', ...policy });
  await changeApp(h.ctx, app.id, { name });
  const res = await h.call('POST', '/v1/otp/send', { key, body: { phone } });
  expect(res.status).toBe(201);
  const code = await codeFromInbox(h, phone);
  return { key, otpId: res.body.data.otp_id as string, code, appId: app.id };
}

async function reads(otpId?: string) {
  let q = h.ctx.store.db.selectFrom('activity_log').selectAll().where('type', '=', 'otp.ussd_read');
  if (otpId) q = q.where('otp_id', '=', otpId);
  return q.execute();
}

const otpRow = (id: string) =>
  h.ctx.store.db.selectFrom('otps').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('POST /ussd: the menu', () => {
  it('opens with the menu, in text/plain, on an empty or absent text', async () => {
    const first = await dial({ phoneNumber: '+9779841800001', text: '' });
    expect(first.status).toBe(200);
    expect(first.type).toMatch(/^text\/plain/);
    expect(first.text).toBe('CON 1. Show my verification code(s)\n2. Code for another number');
    const absent = await dial({ phoneNumber: '+9779841800001', text: undefined });
    expect(absent.text).toBe(SCREENS.menu);
  });

  it("shows the caller's pending code, logs the read and changes nothing of the OTP", async () => {
    const phone = '+9779841800002';
    const { key, otpId, code } = await sendCode(phone, 'Acme Bank');
    const before = await otpRow(otpId);

    const res = await dial({ phoneNumber: phone, text: '1', sessionId: 'ATUid_read_1' });
    expect(res.status).toBe(200);
    expect(res.text).toMatch(new RegExp(`^END Acme Bank: ${code} \\(expires in \\d+ min\\)$`));
    expect(res.text).toBe(`END Acme Bank: ${code} (expires in 5 min)`);

    const [entry, ...more] = await reads(otpId);
    expect(more).toHaveLength(0);
    expect(entry).toMatchObject({ otp_id: otpId, type: 'otp.ussd_read' });
    expect(JSON.parse(entry!.detail)).toEqual({ session_id: 'ATUid_read_1' });

    expect(await otpRow(otpId)).toEqual(before);
    const verified = await h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code } });
    expect(verified.status).toBe(200);
    expect(verified.body.data).toMatchObject({ verified: true, otp_id: otpId });
  });

  it('never writes the code to the log', async () => {
    const phone = '+9779841800003';
    const { code } = await sendCode(phone);
    logged = '';
    const res = await dial({ phoneNumber: phone, text: '1', sessionId: 'ATUid_logcheck' });
    expect(res.text).toContain(code);
    expect(logged).toContain('ATUid_logcheck');
    expect(logged).not.toContain(code);
  });

  it('answers a caller with no pending code', async () => {
    const res = await dial({ phoneNumber: '+9779841800004', text: '1' });
    expect(res.text).toBe('END No pending code for this number.');
  });

  it('reads a carrier number sent without its +, and refuses one it cannot place', async () => {
    const { code } = await sendCode('+9779841800005');
    expect((await dial({ phoneNumber: '9779841800005', text: '1' })).text).toContain(code);
    expect((await dial({ phoneNumber: '9841800005', text: '1' })).text).toBe(SCREENS.unreadableNumber);
    expect((await dial({ phoneNumber: 'anonymous', text: '1' })).text).toBe(SCREENS.unreadableNumber);
  });

  it('answers anything but 1 or 2 with Invalid choice', async () => {
    for (const text of ['3', '12', '1*1', 'abc', '*']) {
      expect((await dial({ phoneNumber: '+9779841800006', text })).text).toBe('END Invalid choice.');
    }
  });
});

describe('POST /ussd: only the caller’s own number', () => {
  it('refuses a code for another number, however it is typed, and reads nothing', async () => {
    const victim = '+9779841800010';
    const { otpId, code } = await sendCode(victim);
    const attacker = '+9779841800011';
    await sendCode(attacker);
    const readsBefore = (await reads()).length;

    for (const text of [
      '2',
      `2*${victim}`,
      '2*9841800010',
      `1*${victim}`,
      '1*9779841800010',
      `${victim}`,
      '1*+977 984-1800010',
    ]) {
      const res = await dial({ phoneNumber: attacker, text });
      expect(res.text, text).toBe('END Codes are shown only on the phone they were sent to.');
      expect(res.text).not.toContain(code);
    }
    // With no phoneNumber there is no caller: the gateway's request is refused.
    const anonymous = await dial({ phoneNumber: undefined, text: `1*${victim}` });
    expect(anonymous.status).toBe(400);
    expect(JSON.parse(anonymous.text).error).toMatchObject({ code: 'INVALID_REQUEST', field: 'phoneNumber' });
    const empty = await dial({ phoneNumber: '', text: '1' });
    expect(empty.status).toBe(400);

    expect(await reads(otpId)).toHaveLength(0);
    expect((await reads()).length).toBe(readsBefore);
  });

  it("shows every tenant's code for the caller's phone, newest first, and no other phone's", async () => {
    const phone = '+9779841800020';
    const older = await sendCode(phone, 'Older Shop');
    h.clock.advance(1);
    const newer = await sendCode(phone, 'Newer Wallet');
    const neighbour = await sendCode('+9779841800021', 'Neighbour');

    const res = await dial({ phoneNumber: phone, text: '1' });
    expect(res.text).toBe(
      `END Newer Wallet: ${newer.code} (expires in 5 min)\nOlder Shop: ${older.code} (expires in 5 min)`,
    );
    expect(res.text).not.toContain(neighbour.code);
    expect(await reads(older.otpId)).toHaveLength(1);
    expect(await reads(newer.otpId)).toHaveLength(1);
    expect(await reads(neighbour.otpId)).toHaveLength(0);
  });

  it('leaves out verified, canceled, expired and sandbox codes', async () => {
    const phone = '+9779841800030';
    const verified = await sendCode(phone, 'Verified');
    expect(
      (
        await h.call('POST', '/v1/otp/verify', {
          key: verified.key,
          body: { otp_id: verified.otpId, code: verified.code },
        })
      ).status,
    ).toBe(200);
    const canceled = await sendCode(phone, 'Canceled');
    expect((await h.call('POST', `/v1/otp/${canceled.otpId}/cancel`, { key: canceled.key })).status).toBe(
      200,
    );
    // Still `pending` in its row (no sweep ran), but its time is up.
    const expired = await sendCode(phone, 'Expired', { expiry: 60 });
    const sandbox = await h.tenant({ environment: 'sandbox' });
    expect((await h.call('POST', '/v1/otp/send', { key: sandbox.key, body: { phone } })).status).toBe(201);
    h.clock.advance(61);
    const live = await sendCode(phone, 'Live');

    expect((await otpRow(expired.otpId)).status).toBe('pending');
    const res = await dial({ phoneNumber: phone, text: '1' });
    expect(res.text).toBe(`END Live: ${live.code} (expires in 5 min)`);
    for (const gone of [verified, canceled, expired]) expect(await reads(gone.otpId)).toHaveLength(0);
  });

  it('shows at most 3 codes, newest first, with app names cut to one short line', async () => {
    const phone = '+9779841800040';
    const sent: Awaited<ReturnType<typeof sendCode>>[] = [];
    for (let i = 0; i < 4; i++) {
      sent.push(await sendCode(phone, `Long\nname of application number ${i}`));
      h.clock.advance(1);
    }
    const res = await dial({ phoneNumber: phone, text: '1' });
    expect(res.text).toBe(
      `END ${[3, 2, 1].map((i) => `Long name of application: ${sent[i]!.code} (expires in 5 min)`).join('\n')}`,
    );
    expect(await reads(sent[0]!.otpId)).toHaveLength(0);
    for (const i of [1, 2, 3]) expect(await reads(sent[i]!.otpId)).toHaveLength(1);
  });

  it('drops the codes that would make the screen longer than 182 characters', async () => {
    const phone = '+9779841800041';
    const sent: Awaited<ReturnType<typeof sendCode>>[] = [];
    for (let i = 0; i < 3; i++) {
      sent.push(
        await sendCode(phone, `Application with a long name ${i}`, {
          expiry: 86400,
          code_type: 'alphanumeric',
          code_length: 12,
        }),
      );
      h.clock.advance(1);
    }
    // Each line is 59 characters: three would make 183 with "END " and the line breaks.
    const res = await dial({ phoneNumber: phone, text: '1' });
    expect(res.text).toBe(
      `END ${[2, 1].map((i) => `Application with a long: ${sent[i]!.code} (expires in 1440 min)`).join('\n')}`,
    );
    expect(res.text.length).toBeLessThanOrEqual(182);
    expect(await reads(sent[0]!.otpId)).toHaveLength(0);
  });
});

describe('POST /ussd: limits and input', () => {
  it('shows the code to exactly 5 of 10 parallel reads of one phone in an hour', async () => {
    const phone = '+9779841800050';
    const { otpId, code } = await sendCode(phone);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => dial({ phoneNumber: phone, text: '1' })),
    );
    expect(answers.filter((a) => a.text.includes(code))).toHaveLength(5);
    expect(answers.filter((a) => a.text === 'END Too many requests. Try again later.')).toHaveLength(5);
    expect(await reads(otpId)).toHaveLength(5);

    // The menu is not a read, and another phone has its own allowance.
    expect((await dial({ phoneNumber: phone, text: '' })).text).toBe(SCREENS.menu);
    expect((await dial({ phoneNumber: '+9779841800051', text: '1' })).text).toBe(SCREENS.noCode);

    h.clock.advance(3601);
    expect((await dial({ phoneNumber: phone, text: '1' })).text).toBe(SCREENS.noCode); // the code expired meanwhile
  });

  it('takes JSON bodies as well as forms, and refuses malformed ones with INVALID_REQUEST', async () => {
    const phone = '+9779841800060';
    const { code } = await sendCode(phone);
    expect((await dial({ phoneNumber: phone, text: '1' }, { json: true })).text).toContain(code);

    const cases: [Dial, string][] = [
      [{ phoneNumber: 9779841800060 }, 'phoneNumber'],
      [{ phoneNumber: phone, sessionId: undefined }, 'sessionId'],
      [{ phoneNumber: phone, serviceCode: undefined }, 'serviceCode'],
      [{ phoneNumber: phone, text: 'x'.repeat(201) }, 'text'],
      [{ phoneNumber: phone, text: ['1'] }, 'text'],
    ];
    for (const [fields, field] of cases) {
      const res = await dial(fields, { json: true });
      expect(res.status, field).toBe(400);
      expect(JSON.parse(res.text).error).toMatchObject({ code: 'INVALID_REQUEST', field });
    }
    const broken = await h.server.inject({
      method: 'POST',
      url: '/ussd',
      headers: { 'content-type': 'application/json', 'x-ussd-secret': USSD_SECRET },
      payload: '{"sessionId":',
    });
    expect(broken.statusCode).toBe(400);
  });

  it('refuses a form that names a field twice', async () => {
    const res = await h.server.inject({
      method: 'POST',
      url: '/ussd',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-ussd-secret': USSD_SECRET },
      payload: `sessionId=s1&serviceCode=${encodeURIComponent(SERVICE_CODE)}&phoneNumber=%2B9779841800070&phoneNumber=%2B9779841800071&text=1`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'INVALID_REQUEST', field: 'phoneNumber' });
  });

  it('takes unknown extra fields, even ones named like Object properties', async () => {
    const res = await h.server.inject({
      method: 'POST',
      url: '/ussd',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-ussd-secret': USSD_SECRET },
      payload: `sessionId=s2&serviceCode=${encodeURIComponent(SERVICE_CODE)}&phoneNumber=%2B9779841800072&text=&networkCode=42901&constructor=x&__proto__=y&toString=z`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(SCREENS.menu);
  });

  it('ends the session on another service code', async () => {
    const phone = '+9779841800080';
    const { otpId } = await sendCode(phone);
    const res = await dial({ phoneNumber: phone, text: '1', serviceCode: '*384*999#' });
    expect(res.text).toBe('END Unknown service code.');
    expect(await reads(otpId)).toHaveLength(0);
  });
});

describe('POST /ussd: the gateway is authenticated', () => {
  it('answers a wrong or missing secret with 401 INVALID_SIGNATURE and reads nothing', async () => {
    const phone = '+9779841800090';
    const { otpId, code } = await sendCode(phone);
    for (const secret of [null, 'wrong-secret-0123456789abcdef', `${USSD_SECRET}x`, '']) {
      const res = await dial({ phoneNumber: phone, text: '1' }, { secret });
      expect(res.status).toBe(401);
      expect(res.type).toMatch(/^application\/json/);
      expect(res.text).not.toContain(code);
      expect(JSON.parse(res.text)).toMatchObject({ success: false, error: { code: 'INVALID_SIGNATURE' } });
    }
    const wrongQuery = await dial({ phoneNumber: phone, text: '1' }, { secret: null, query: '?secret=nope' });
    expect(wrongQuery.status).toBe(401);
    expect(await reads(otpId)).toHaveLength(0);

    // Gateways that cannot set headers put it in the URL.
    const byQuery = await dial(
      { phoneNumber: phone, text: '1' },
      { secret: null, query: `?secret=${encodeURIComponent(USSD_SECRET)}` },
    );
    expect(byQuery.text).toContain(code);
  });

  it('refuses a configuration with neither a secret nor allowed addresses', () => {
    expect(() => checkUssdGateway({}, { secret: USSD_SECRET, ip: '127.0.0.1' })).toThrow(
      expect.objectContaining({ code: 'INVALID_SIGNATURE' }),
    );
    expect(() =>
      checkUssdGateway({ service_code: SERVICE_CODE }, { secret: undefined, ip: '127.0.0.1' }),
    ).toThrow(/ussd\.secret or ussd\.allowed_ips/);
  });

  it('checks the allowed addresses, alone or with the secret', async () => {
    const byIp = await createHarness({
      delivery: { providers: {}, ussd: { allowed_ips: ['10.9.8.7', '::1'] } },
    });
    const both = await createHarness({
      delivery: { providers: {}, ussd: { secret: USSD_SECRET, allowed_ips: ['10.9.8.7'] } },
    });
    const step = { phoneNumber: '+9779841800100', text: '' };

    expect((await dial(step, { harness: byIp, secret: null, remoteAddress: '10.9.8.7' })).text).toBe(
      SCREENS.menu,
    );
    expect((await dial(step, { harness: byIp, secret: null, remoteAddress: '::ffff:10.9.8.7' })).text).toBe(
      SCREENS.menu,
    );
    expect((await dial(step, { harness: byIp, secret: null, remoteAddress: '::1' })).status).toBe(200);
    for (const remoteAddress of ['10.9.8.6', '127.0.0.1', '10.9.8.70']) {
      const res = await dial(step, { harness: byIp, secret: null, remoteAddress });
      expect(res.status, remoteAddress).toBe(401);
      expect(JSON.parse(res.text).error.code).toBe('INVALID_SIGNATURE');
    }

    // Both configured: both must pass.
    expect((await dial(step, { harness: both, remoteAddress: '10.9.8.7' })).text).toBe(SCREENS.menu);
    expect((await dial(step, { harness: both, remoteAddress: '10.9.8.8' })).status).toBe(401);
    expect((await dial(step, { harness: both, secret: 'nope', remoteAddress: '10.9.8.7' })).status).toBe(401);
    expect((await dial(step, { harness: both, secret: null, remoteAddress: '10.9.8.7' })).status).toBe(401);
  });

  it('is not served when ussd is not configured', async () => {
    const plain = await createHarness({ delivery: { providers: {} } });
    const res = await dial({ phoneNumber: '+9779841800110', text: '1' }, { harness: plain });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text).error.code).toBe('NOT_FOUND');
  });
});
