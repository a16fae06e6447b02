import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../src/core/errors.js';
import { createHarness, type Harness } from '../harness.js';

/**
 * Property-based tests of the JSON bodies of send and verify: whatever the
 * body, the answer is never a 5xx, always the envelope with a known code, and
 * a refused request leaves the database as it was.
 */

let h: Harness;
let key: string;
const RUNS = 150;

beforeAll(async () => {
  h = await createHarness();
  // Generous limits, so valid sends are accepted and the properties see both outcomes.
  const big = { max: 1_000_000, window: 60 };
  ({ key } = await h.tenant({
    default_country: 'NP',
    allowed_countries: ['NP', 'IN', 'US'],
    max_attempts: 10,
    limits: { phone_hour: big, phone_day: big, key_minute: big, key_day: big, ip_hour: big },
  }));
});

const EXTRAS = new Set([
  'field',
  'attempts_remaining',
  'retry_after',
  'otp_id',
  'scope',
  'resend_available_at',
]);

/** Posts a raw JSON text and checks the envelope; answers status and body. */
async function postJson(url: string, payload: string) {
  const res = await h.server.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    payload,
  });
  const status = res.statusCode;
  expect(status, res.body).toBeLessThan(500);
  const body = res.json();
  expect(body.request_id).toMatch(/^req_/);
  expect(res.headers['x-request-id']).toBe(body.request_id);
  if (status < 300) {
    expect(body.success).toBe(true);
    expect(typeof body.data).toBe('object');
  } else {
    expect(body.success).toBe(false);
    const code = body.error.code as ErrorCode;
    expect(Object.keys(ERRORS)).toContain(code);
    expect(ERRORS[code].status).toBe(status);
    expect(typeof body.error.message).toBe('string');
    for (const extra of Object.keys(body.error)) {
      if (extra !== 'code' && extra !== 'message') expect(EXTRAS).toContain(extra);
    }
    if (code === 'INVALID_REQUEST') expect(typeof body.error.field).toBe('string');
  }
  return { status, body };
}

/** Everything a send or verify may change. */
async function snapshot() {
  const db = h.ctx.store.db;
  const [otps, messages, limits, attempts, activity] = await Promise.all([
    db
      .selectFrom('otps')
      .select(['id', 'status', 'attempts', 'send_count', 'code_hmac', 'code_ciphertext'])
      .orderBy('id')
      .execute(),
    db.selectFrom('messages').select(['id', 'status']).orderBy('id').execute(),
    db.selectFrom('rate_limits').selectAll().orderBy('key').execute(),
    db.selectFrom('otp_attempts').select('id').orderBy('id').execute(),
    db.selectFrom('activity_log').select('id').orderBy('id').execute(),
  ]);
  return { otps, messages, limits, attempts, activity };
}
type Snapshot = Awaited<ReturnType<typeof snapshot>>;

function changedOtps(before: Snapshot, after: Snapshot): string[] {
  const old = new Map(before.otps.map((o) => [o.id, JSON.stringify(o)]));
  return after.otps.filter((o) => old.get(o.id) !== JSON.stringify(o)).map((o) => o.id);
}

// ---- arbitraries -------------------------------------------------------

const npMobile = fc.integer({ min: 0, max: 9_999_999 }).map((n) => `+977984${String(n).padStart(7, '0')}`);
const phoneish = fc.oneof(
  npMobile,
  npMobile.map((p) => p.replace('+977', '00977')),
  npMobile.map((p) => p.slice(4)),
  npMobile.map((p) => `${p.slice(0, 4)} ${p.slice(4, 7)}-${p.slice(7)}`),
  fc.constantFrom('+97714123456', '+14155552671', '+919812345678', '+447911123456', '+977123', '+', '00', ''),
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^\+?[0-9 ()-]{0,20}$/),
);
const hugeString = fc.integer({ min: 1_000, max: 80_000 }).map((n) => 'x'.repeat(n));
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.object({ maxDepth: 2 }),
);
const anyValue = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 4, arbitrary: wrongType },
  { weight: 4, arbitrary: fc.string({ maxLength: 50 }) },
  { weight: 1, arbitrary: hugeString },
);
const nested = fc.integer({ min: 1, max: 1500 }).map((depth) => {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
});
const metadata = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
  fc.object({ maxDepth: 4 }),
  nested,
  fc.string({ maxLength: 5000 }).map((blob) => ({ blob })),
  anyValue,
);
const template = fc.oneof(
  fc.constantFrom(
    '{app}: {code}',
    'Code {code} ({minutes} min)',
    'no placeholder',
    'Code {code} {nope}',
    '{code}',
  ),
  fc.string({ maxLength: 700 }),
  fc.string({ maxLength: 30 }).map((s) => `${s}{code}${s}`),
);

const sendBody = fc.record(
  {
    phone: fc.oneof({ weight: 4, arbitrary: phoneish }, { weight: 1, arbitrary: anyValue }),
    channel: fc.oneof(fc.constantFrom('sms', 'whatsapp', 'voice', 'rcs', 'fax', 'SMS', ''), anyValue),
    reference: fc.oneof(fc.string({ maxLength: 200 }), anyValue),
    metadata,
    code_type: fc.oneof(fc.constantFrom('numeric', 'alphanumeric', 'alphabetic', 'emoji'), anyValue),
    code_length: fc.oneof(
      fc.integer({ min: -2, max: 20 }),
      fc.double(),
      fc.stringMatching(/^\d{1,3}$/),
      anyValue,
    ),
    expiry: fc.oneof(
      fc.integer({ min: 0, max: 100_000 }),
      fc.double(),
      fc.stringMatching(/^\d{1,6}$/),
      anyValue,
    ),
    max_attempts: fc.oneof(fc.integer({ min: -1, max: 12 }), anyValue),
    message: template,
    sender_id: fc.oneof(fc.string({ maxLength: 25 }), anyValue),
    locale: fc.oneof(
      fc.constantFrom('en', 'ne-NP', 'en_US', 'x', ''),
      fc.string({ maxLength: 40 }),
      anyValue,
    ),
    ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 50 }), anyValue),
    code: fc.oneof(fc.stringMatching(/^[0-9A-Za-z]{0,14}$/), anyValue),
  },
  { requiredKeys: [] },
);

/** Bodies built from in-range values and their edges: most are accepted. */
const boundedSend = fc.record(
  {
    phone: npMobile,
    channel: fc.constantFrom('sms', 'whatsapp', 'voice', 'rcs'),
    reference: fc.string({ minLength: 0, maxLength: 130 }),
    metadata: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
    code_type: fc.constantFrom('numeric', 'alphanumeric', 'alphabetic'),
    code_length: fc.integer({ min: 3, max: 13 }),
    expiry: fc.integer({ min: 59, max: 86401 }),
    max_attempts: fc.integer({ min: 0, max: 11 }),
    message: template,
    sender_id: fc.string({ minLength: 0, maxLength: 21 }),
    locale: fc.constantFrom('en', 'ne-NP', 'en_US', 'x'),
    ip: fc.oneof(fc.ipV4(), fc.ipV6()),
  },
  { requiredKeys: ['phone'] },
);

const VALID_SEND = {
  phone: '+9779840000000',
  channel: 'sms',
  reference: 'r',
  metadata: { a: 1 },
  expiry: 300,
};
/** A valid body with one field dropped, replaced by anything, or one field added. */
const mutatedSend = fc.oneof(
  fc.constantFrom(...Object.keys(VALID_SEND)).map((drop) => {
    const { [drop]: _dropped, ...rest } = VALID_SEND as Record<string, unknown>;
    return rest;
  }),
  fc
    .tuple(fc.constantFrom(...Object.keys(VALID_SEND)), anyValue)
    .map(([field, value]) => ({ ...VALID_SEND, [field]: value })),
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 12 }), anyValue)
    .map(([field, value]) => ({ ...VALID_SEND, [field]: value })),
);

/** Any JSON text: arbitrary values, and a few texts that are not JSON at all. */
const anyJsonText = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.object().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 60 }),
  fc.constantFrom(
    '{"__proto__":{"x":1},"phone":"+9779841234567"}',
    '{"constructor":{"prototype":{"x":1}}}',
    '[]',
    'null',
    '""',
  ),
);

// ---- properties ----------------------------------------------------------

describe('POST /v1/otp/send under arbitrary bodies', () => {
  async function checkSend(payload: string): Promise<void> {
    const before = await snapshot();
    const { status, body } = await postJson('/v1/otp/send', payload);
    const after = await snapshot();
    if (status === 201) {
      expect(body.data.status).toBe('pending');
      expect(body.data.phone).toMatch(/^\+[1-9]\d{6,14}$/);
      expect(after.otps.length).toBe(before.otps.length + 1);
      expect(after.messages.length).toBe(before.messages.length + 1);
    } else {
      expect(after).toEqual(before);
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  }

  it('answers any JSON value with the envelope and never a 5xx', async () => {
    await fc.assert(fc.asyncProperty(anyJsonText, checkSend), { numRuns: RUNS });
  });

  it('answers arbitrary send-shaped bodies correctly, changing nothing when refusing', async () => {
    await fc.assert(
      fc.asyncProperty(sendBody, (body) => checkSend(JSON.stringify(body))),
      { numRuns: RUNS },
    );
  });

  it('answers bodies of in-range values and their edges correctly', async () => {
    await fc.assert(
      fc.asyncProperty(boundedSend, (body) => checkSend(JSON.stringify(body))),
      { numRuns: RUNS },
    );
  });

  it('answers mutated valid bodies correctly, changing nothing when refusing', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedSend, fc.integer({ min: 0, max: 9_999_999 }), (body, n) =>
        // A fresh phone each run, so a valid body is accepted rather than ACTIVE_OTP_EXISTS.
        checkSend(
          JSON.stringify({
            ...body,
            ...(body.phone === VALID_SEND.phone ? { phone: `+977985${String(n).padStart(7, '0')}` } : {}),
          }),
        ),
      ),
      { numRuns: RUNS },
    );
  });
});

describe('POST /v1/otp/verify under arbitrary bodies', () => {
  const otpIds: string[] = [];
  const phones: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 30; i++) {
      const phone = `+97798610000${String(i).padStart(2, '0')}`;
      // Half of them with 2 attempts, so the properties also reach MAX_ATTEMPTS_EXCEEDED.
      const res = await h.call('POST', '/v1/otp/send', {
        key,
        body: { phone, ...(i % 2 ? { max_attempts: 2 } : {}) },
      });
      expect(res.status).toBe(201);
      otpIds.push(res.body.data.otp_id);
      phones.push(phone);
    }
  });

  const codes = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom('123456', '000000', '12 34 56', '123-456', '1234567', ' 123456 '),
    },
    fc.stringMatching(/^[0-9]{6}$/),
    fc.string({ minLength: 1, maxLength: 32 }),
  );
  /** Well-shaped verifications of real OTPs, by id or by phone in any written form. */
  const wellShaped = () =>
    fc.oneof(
      fc.record({ otp_id: fc.constantFrom(...otpIds), code: codes }),
      fc.record({
        phone: fc.oneof(
          fc.constantFrom(...phones),
          fc.constantFrom(...phones).map((p) => p.slice(4)),
          fc.constantFrom(...phones).map((p) => p.replace('+', '00')),
        ),
        code: codes,
      }),
      fc.record({ otp_id: fc.constantFrom(...otpIds), phone: fc.constantFrom(...phones), code: codes }),
    );

  const verifyBody = () =>
    fc.record(
      {
        otp_id: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...otpIds) },
          fc.stringMatching(/^otp_[0-9A-Za-z]{1,40}$/),
          fc.string({ maxLength: 60 }),
          anyValue,
        ),
        phone: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...phones) },
          fc.constantFrom(...phones).map((p) => p.slice(4)),
          phoneish,
          anyValue,
        ),
        code: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom('123456', '000000', '12 34 56', '123-456', '1234567') },
          fc.integer({ min: 0, max: 999_999 }),
          fc.string({ maxLength: 40 }),
          anyValue,
        ),
        extra: anyValue,
      },
      { requiredKeys: ['code'] },
    );

  async function checkVerify(payload: string): Promise<void> {
    const before = await snapshot();
    const { status, body } = await postJson('/v1/otp/verify', payload);
    const after = await snapshot();
    const changed = changedOtps(before, after);
    if (status === 200) {
      expect(body.data.verified).toBe(true);
      expect(changed).toEqual([body.data.otp_id]);
      expect(after.otps.find((o) => o.id === body.data.otp_id)).toMatchObject({
        status: 'verified',
        code_ciphertext: null,
      });
    } else if (body.error.code === 'INVALID_OTP') {
      // A wrong code counts one attempt on that one OTP, nothing else.
      expect(changed).toEqual([body.error.otp_id]);
      expect(after.attempts.length).toBe(before.attempts.length + 1);
      const was = before.otps.find((o) => o.id === body.error.otp_id)!;
      const now = after.otps.find((o) => o.id === body.error.otp_id)!;
      expect(now.attempts).toBe(was.attempts + 1);
      expect(body.error.attempts_remaining).toBeGreaterThanOrEqual(0);
    } else {
      expect(after).toEqual(before);
    }
    expect(after.messages).toEqual(before.messages);
    expect(after.limits).toEqual(before.limits);
  }

  it('answers any JSON value with the envelope and never a 5xx', async () => {
    await fc.assert(fc.asyncProperty(anyJsonText, checkVerify), { numRuns: RUNS });
  });

  it('answers arbitrary verify-shaped bodies correctly, changing only the OTP it is about', async () => {
    await fc.assert(
      fc.asyncProperty(verifyBody(), (body) => checkVerify(JSON.stringify(body))),
      { numRuns: RUNS },
    );
  });

  it('answers well-shaped verifications of real OTPs correctly, changing only the OTP it is about', async () => {
    await fc.assert(
      fc.asyncProperty(wellShaped(), (body) => checkVerify(JSON.stringify(body))),
      { numRuns: RUNS },
    );
  });

  it('never lets an OTP take more attempts than its max_attempts', async () => {
    const rows = await h.ctx.store.db
      .selectFrom('otps')
      .select(['attempts', 'max_attempts', 'status'])
      .execute();
    for (const row of rows) expect(row.attempts).toBeLessThanOrEqual(row.max_attempts);
    const attempts = await h.ctx.store.db.selectFrom('otp_attempts').select('id').execute();
    expect(attempts.length).toBe(rows.reduce((sum, r) => sum + r.attempts, 0));
  });
});
