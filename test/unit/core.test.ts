import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { CODE_SPECS, CODE_TYPES, generateCode, isWellFormedCode, sandboxCode } from '../../src/core/codes.js';
import { decrypt, deriveKeyring, encrypt, hashCode, safeEqual } from '../../src/core/crypto.js';
import { OtpdError } from '../../src/core/errors.js';
import { checkOtpTemplate, renderOtpMessage } from '../../src/core/message.js';
import { canReceiveText, parsePhone } from '../../src/core/phone.js';
import { createLogger, redactUrl } from '../../src/logger.js';
import { generateKeySecret, isWellFormedKey } from '../../src/tenancy/keys.js';

const keyring = deriveKeyring('unit-test-secret-0123456789abcdef-0123');

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('codes', () => {
  it.each(
    CODE_TYPES.flatMap((type) => {
      const { min, max } = CODE_SPECS[type];
      return Array.from({ length: max - min + 1 }, (_, i) => [type, min + i] as const);
    }),
  )('generates %s codes of length %i from the alphabet', (type, length) => {
    for (let i = 0; i < 50; i++) {
      const code = generateCode(type, length);
      expect(code).toHaveLength(length);
      expect(isWellFormedCode(type, length, code)).toBe(true);
    }
  });

  it('keeps look-alikes out of alphanumeric codes and lowercase out of every type', () => {
    const seen = new Set(Array.from({ length: 500 }, () => generateCode('alphanumeric', 12)).join(''));
    for (const ch of '0O1Iabcxyz') expect(seen.has(ch)).toBe(false);
    expect(CODE_SPECS.alphanumeric.alphabet).toHaveLength(32);
    expect(/^[A-Z]+$/.test(Array.from({ length: 200 }, () => generateCode('alphabetic', 10)).join(''))).toBe(
      true,
    );
    expect(/^\d+$/.test(Array.from({ length: 200 }, () => generateCode('numeric', 8)).join(''))).toBe(true);
  });

  it.each(CODE_TYPES)('draws %s characters roughly uniformly', (type) => {
    const { alphabet } = CODE_SPECS[type];
    const counts = new Map<string, number>([...alphabet].map((c) => [c, 0]));
    const draws = 60_000;
    let total = 0;
    while (total < draws) {
      for (const ch of generateCode(type, CODE_SPECS[type].max)) {
        counts.set(ch, counts.get(ch)! + 1);
        total++;
      }
    }
    const expected = total / alphabet.length;
    const chiSquare = [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    // Degrees of freedom ≤ 31; a chi-square above 100 happens by chance with p < 1e-8.
    expect(chiSquare).toBeLessThan(100);
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.15);
  });

  it('does not repeat codes more often than chance allows', () => {
    const codes = new Set(Array.from({ length: 2000 }, () => generateCode('alphanumeric', 8)));
    expect(codes.size).toBe(2000);
  });

  it('gives 123456 as the sandbox code of the default policy', () => {
    expect(sandboxCode('numeric', 6)).toBe('123456');
  });

  it.each(
    CODE_TYPES.flatMap((type) => {
      const { min, max } = CODE_SPECS[type];
      return Array.from({ length: max - min + 1 }, (_, i) => [type, min + i] as const);
    }),
  )('has a fixed, well-formed %s sandbox code of length %i', (type, length) => {
    const code = sandboxCode(type, length);
    expect(code).toHaveLength(length);
    expect(isWellFormedCode(type, length, code)).toBe(true);
    expect(sandboxCode(type, length)).toBe(code);
  });

  it('refuses codes of the wrong length or alphabet as not well-formed', () => {
    expect(isWellFormedCode('numeric', 6, '12345')).toBe(false);
    expect(isWellFormedCode('numeric', 6, '12345a')).toBe(false);
    expect(isWellFormedCode('alphanumeric', 8, 'ABCDEFG0')).toBe(false);
    expect(isWellFormedCode('alphabetic', 5, 'abcde')).toBe(false);
  });
});

describe('code hashing and encryption', () => {
  it('binds the HMAC of a code to its OTP id', () => {
    const a = hashCode(keyring, 'otp_a', '123456');
    expect(hashCode(keyring, 'otp_a', '123456')).toBe(a);
    expect(hashCode(keyring, 'otp_b', '123456')).not.toBe(a);
    expect(hashCode(keyring, 'otp_a', '123457')).not.toBe(a);
    expect(a).not.toContain('123456');
  });

  it('derives different code keys from different secrets', () => {
    const other = deriveKeyring('another-secret-0123456789abcdef-01234');
    expect(hashCode(other, 'otp_a', '123456')).not.toBe(hashCode(keyring, 'otp_a', '123456'));
    expect(other.codeKey.equals(other.encryptionKey)).toBe(false);
  });

  it('round-trips AES-GCM with a fresh IV each time', () => {
    const first = encrypt(keyring, '482913', 'otp_x');
    const second = encrypt(keyring, '482913', 'otp_x');
    expect(first).not.toBe(second);
    expect(first).not.toContain('482913');
    expect(decrypt(keyring, first, 'otp_x')).toBe('482913');
    expect(decrypt(keyring, second, 'otp_x')).toBe('482913');
    expect(decrypt(keyring, encrypt(keyring, 'ünïcode ✓', 'id'), 'id')).toBe('ünïcode ✓');
  });

  it('refuses a ciphertext moved to another record (AAD)', () => {
    const sealed = encrypt(keyring, '482913', 'otp_x');
    expect(() => decrypt(keyring, sealed, 'otp_y')).toThrow();
  });

  it('refuses a tampered ciphertext', () => {
    const sealed = encrypt(keyring, '482913', 'otp_x');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    for (const at of [0, 12, 20, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[at]! ^= 0x01;
      expect(() => decrypt(keyring, `v1.${bad.toString('base64url')}`, 'otp_x')).toThrow();
    }
    expect(() => decrypt(keyring, `v2.${sealed.slice(3)}`, 'otp_x')).toThrow(/version/);
  });

  it('refuses a ciphertext under another key', () => {
    const sealed = encrypt(keyring, '482913', 'otp_x');
    expect(() => decrypt(deriveKeyring('another-secret-0123456789abcdef-01234'), sealed, 'otp_x')).toThrow();
  });

  it('compares strings with safeEqual', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('abcd', 'abc')).toBe(false);
    expect(safeEqual('é', 'e\u0301')).toBe(false);
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => safeEqual(a, b) === (a === b)));
  });
});

describe('API keys', () => {
  it('formats test and live keys with the environment prefix', () => {
    const test = generateKeySecret('sandbox');
    const live = generateKeySecret('live');
    expect(test).toMatch(/^otpd_test_[0-9A-Za-z]{36}$/);
    expect(live).toMatch(/^otpd_live_[0-9A-Za-z]{36}$/);
    expect(isWellFormedKey(test)).toBe(true);
    expect(isWellFormedKey(live)).toBe(true);
  });

  it('carries at least 128 bits of randomness (no repeats, every position varies)', () => {
    const keys = Array.from({ length: 1000 }, () => generateKeySecret('sandbox'));
    expect(new Set(keys).size).toBe(1000);
    // 30 random base62 characters ≈ 178 bits.
    for (let i = 10; i < 40; i++) expect(new Set(keys.map((k) => k[i])).size).toBeGreaterThan(30);
  });

  it('catches any single changed character with the checksum', () => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    fc.assert(
      fc.property(
        fc.constantFrom<'sandbox' | 'live'>('sandbox', 'live'),
        fc.nat(),
        fc.nat(),
        (env, at, by) => {
          const key = generateKeySecret(env);
          const position = 10 + (at % 36);
          const original = key[position]!;
          const replacement = alphabet.replace(original, '')[by % 61]!;
          const changed = key.slice(0, position) + replacement + key.slice(position + 1);
          return !isWellFormedKey(changed);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('catches a swapped environment and refuses malformed keys', () => {
    const key = generateKeySecret('sandbox');
    expect(isWellFormedKey(key.replace('otpd_test_', 'otpd_live_'))).toBe(false);
    expect(isWellFormedKey(key.slice(0, -1))).toBe(false);
    expect(isWellFormedKey(`${key}x`)).toBe(false);
    expect(isWellFormedKey(`otpd_prod_${key.slice(10)}`)).toBe(false);
    expect(isWellFormedKey(` ${key}`)).toBe(false);
    expect(isWellFormedKey('')).toBe(false);
  });
});

describe('phone numbers', () => {
  it('reads E.164 with country and line type', () => {
    expect(parsePhone('+9779841234567')).toEqual({ e164: '+9779841234567', country: 'NP', type: 'MOBILE' });
  });

  it.each(['+977 984-1234567', '009779841234567', ' +977 (984) 123 4567 '])(
    'normalises %j to E.164',
    (input) => {
      expect(parsePhone(input).e164).toBe('+9779841234567');
    },
  );

  it('reads 00 as the international prefix whatever the default country', () => {
    expect(parsePhone('009779841234567', 'US').e164).toBe('+9779841234567');
    expect(parsePhone('00442071838750', 'NP').e164).toBe('+442071838750');
  });

  it('reads national numbers with the default country', () => {
    expect(parsePhone('9841234567', 'NP').e164).toBe('+9779841234567');
    expect(parsePhone('(415) 555-2671', 'US').e164).toBe('+14155552671');
  });

  it.each([
    ['9841234567', undefined],
    ['not a phone', undefined],
    ['+977123', undefined],
    ['', undefined],
    ['+', undefined],
    ['12', 'NP'],
    ['+99912345678', undefined],
  ])('refuses %j (default %s) with INVALID_PHONE_FORMAT on phone', (input, country) => {
    const error = thrown(() => parsePhone(input, country)) as OtpdError;
    expect(error).toBeInstanceOf(OtpdError);
    expect(error.code).toBe('INVALID_PHONE_FORMAT');
    expect(error.extras.field).toBe('phone');
  });

  it('shortens a long invalid input in the error message', () => {
    const error = thrown(() => parsePhone('x'.repeat(500))) as OtpdError;
    expect(error.message.length).toBeLessThan(200);
  });

  it('tells landlines from mobiles', () => {
    const landline = parsePhone('+97714123456');
    expect(landline.type).toBe('FIXED_LINE');
    expect(canReceiveText(landline)).toBe(false);
    expect(canReceiveText(parsePhone('+9779841234567'))).toBe(true);
    // US numbers cannot be told apart: they may receive texts.
    expect(canReceiveText(parsePhone('+14155552671'))).toBe(true);
  });

  it('never throws anything but INVALID_PHONE_FORMAT on arbitrary text', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.constantFrom(undefined, 'NP', 'US', 'ZZ'),
        (input, country) => {
          try {
            const phone = parsePhone(input, country);
            return /^\+[1-9]\d{6,14}$/.test(phone.e164);
          } catch (error) {
            return error instanceof OtpdError && error.code === 'INVALID_PHONE_FORMAT';
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('message templates', () => {
  it('renders {code}, {minutes} and {app}, each as often as it appears', () => {
    expect(
      renderOtpMessage('{app}: {code} ({minutes} min) — {code}', { code: '123456', minutes: 5, app: 'Shop' }),
    ).toBe('Shop: 123456 (5 min) — 123456');
  });

  it('does not expand placeholders that come from the values themselves', () => {
    expect(renderOtpMessage('{app} {code}', { code: '123456', minutes: 5, app: '{code}{minutes}' })).toBe(
      '{code}{minutes} 123456',
    );
  });

  it('accepts the default template and any using known placeholders with {code}', () => {
    expect(() =>
      checkOtpTemplate('Your {app} verification code is {code}. It expires in {minutes} minutes.'),
    ).not.toThrow();
    expect(() => checkOtpTemplate('{code}')).not.toThrow();
    expect(() => checkOtpTemplate('Code {code} {not a placeholder}')).not.toThrow();
  });

  it.each([
    ['no placeholder here', 'message'],
    ['Code {cod}', 'message'],
    ['Code {code} {nope}', 'message'],
    ['{app} {minutes}', 'message'],
  ])('refuses %j with INVALID_REQUEST on %s', (template, field) => {
    const error = thrown(() => checkOtpTemplate(template)) as OtpdError;
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.extras.field).toBe(field);
  });

  it('names the field it was given', () => {
    const error = thrown(() => checkOtpTemplate('nothing', 'template')) as OtpdError;
    expect(error.extras.field).toBe('template');
  });
});

describe('configuration', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const dir = mkdtempSync(join(tmpdir(), 'otpd-config-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const SECRET = 'a-config-test-secret-0123456789abcdef';

  it('applies the documented defaults', () => {
    const dir = tmp();
    const cfg = loadConfig({ OTPD_DATA_DIR: dir, OTPD_SECRET: SECRET });
    expect(cfg).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dataDir: dir,
      databaseUrl: join(dir, 'otpd.db'),
      secret: SECRET,
      secretSource: 'env',
      adminToken: undefined,
      logLevel: 'info',
      workers: true,
      webhookAllowPrivate: false,
    });
  });

  it('reads every setting from the environment, and flags over it', () => {
    const dir = tmp();
    const env = {
      OTPD_DATA_DIR: dir,
      OTPD_SECRET: SECRET,
      PORT: '8080',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u@db:5432/otpd',
      OTPD_ADMIN_TOKEN: 'an-operator-token-of-enough-length',
      LOG_LEVEL: 'warn',
      OTPD_WORKERS: 'false',
      OTPD_WEBHOOK_ALLOW_PRIVATE: 'yes',
    };
    expect(loadConfig(env)).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      databaseUrl: 'postgres://u@db:5432/otpd',
      adminToken: 'an-operator-token-of-enough-length',
      logLevel: 'warn',
      workers: false,
      webhookAllowPrivate: true,
    });
    expect(loadConfig(env, { port: '9090', host: '::1', databaseUrl: join(dir, 'x.db') })).toMatchObject({
      port: 9090,
      host: '::1',
      databaseUrl: join(dir, 'x.db'),
    });
    expect(loadConfig({ ...env, DATABASE_URL: `sqlite:${join(dir, 'y.db')}` }).databaseUrl).toBe(
      join(dir, 'y.db'),
    );
  });

  it.each([
    [{ PORT: 'abc' }, {}, 'PORT'],
    [{ PORT: '70000' }, {}, 'PORT'],
    [{ PORT: '-1' }, {}, 'PORT'],
    [{ PORT: '3000.5' }, {}, 'PORT'],
    [{}, { port: 'abc' }, '--port'],
    [{ LOG_LEVEL: 'loud' }, {}, 'LOG_LEVEL'],
    [{ OTPD_ADMIN_TOKEN: 'short' }, {}, 'OTPD_ADMIN_TOKEN'],
    [{ OTPD_SECRET: 'too-short' }, {}, 'OTPD_SECRET'],
    [{ OTPD_WORKERS: 'maybe' }, {}, 'OTPD_WORKERS'],
    [{ OTPD_WEBHOOK_ALLOW_PRIVATE: 'perhaps' }, {}, 'OTPD_WEBHOOK_ALLOW_PRIVATE'],
    [{ DATABASE_URL: 'mysql://root@db/otpd' }, {}, 'DATABASE_URL'],
  ])('refuses %j %j with a one-line ConfigError naming %s', (bad, flags, name) => {
    const env = { OTPD_DATA_DIR: tmp(), OTPD_SECRET: SECRET, ...bad };
    const error = thrown(() => loadConfig(env, flags)) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(name);
    expect(error.message).not.toContain('\n');
  });

  it('generates the secret once into the data dir with mode 0600, then reuses it', () => {
    const dir = join(tmp(), 'nested', 'data');
    const first = loadConfig({ OTPD_DATA_DIR: dir });
    expect(first.secretSource).toBe('generated');
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    const file = join(dir, 'secret');
    expect(readFileSync(file, 'utf8').trim()).toBe(first.secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const second = loadConfig({ OTPD_DATA_DIR: dir });
    expect(second.secretSource).toBe('file');
    expect(second.secret).toBe(first.secret);
    expect(loadConfig({ OTPD_DATA_DIR: dir, OTPD_SECRET: SECRET }).secret).toBe(SECRET);
  });

  it('refuses a persisted secret that is too short, naming the file', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'secret'), 'short\n', { mode: 0o600 });
    const error = thrown(() => loadConfig({ OTPD_DATA_DIR: dir })) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(join(dir, 'secret'));
  });
});

describe('logging', () => {
  function capture() {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    return { log: createLogger('trace', stream), output: () => lines.join('') };
  }

  const KEY = 'otpd_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
  const TOKEN = 'otpd_admin_SuperSecretOperatorToken0123';

  it('redacts authorization, API-key and cookie headers', () => {
    const { log, output } = capture();
    log.info({ headers: { authorization: `Bearer ${KEY}`, 'x-api-key': KEY, host: 'otpd.local' } }, 'h');
    log.info({ req: { headers: { authorization: `Bearer ${KEY}`, cookie: `s=${TOKEN}` } } }, 'r');
    const text = output();
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(TOKEN);
    expect(text).toContain('otpd.local');
  });

  it('redacts codes, secrets, tokens and message texts at the top level and one level down', () => {
    const { log, output } = capture();
    log.info(
      { code: '482913', secret: KEY, token: TOKEN, admin_token: TOKEN, text: 'Your code is 739154' },
      'top',
    );
    log.info(
      {
        otp: { code: '482913' },
        key: { secret: KEY },
        init: { admin_token: TOKEN },
        message: { text: 'code 739154' },
      },
      'nested',
    );
    log.info({ body: { code: '482913', secret: KEY } }, 'body');
    const text = output();
    for (const hidden of ['482913', '739154', KEY, TOKEN]) expect(text).not.toContain(hidden);
    expect(text).toContain('[Redacted]');
  });

  it('redacts sensitive query parameters in logged request URLs', () => {
    const { log, output } = capture();
    log.info(
      {
        req: { id: 'req_1', method: 'GET', url: `/v1/otp?api_key=${KEY}&code=482913&phone=%2B9779841234567` },
      },
      'q',
    );
    const text = output();
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('482913');
    expect(text).toContain('9779841234567');
    expect(redactUrl('/x?token=abc&access_token=def&password=ghi&limit=5')).toBe(
      '/x?token=%5BRedacted%5D&access_token=%5BRedacted%5D&password=%5BRedacted%5D&limit=5',
    );
    expect(redactUrl('/plain/path')).toBe('/plain/path');
  });
});

describe('error logging', () => {
  it("keeps an error's own code readable as error_code while *.code stays redacted", async () => {
    const { Writable } = await import('node:stream');
    const { createLogger } = await import('../../src/logger.js');
    const lines: string[] = [];
    const log = createLogger(
      'info',
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    log.error(
      { err: Object.assign(new Error('duplicate key'), { code: '23505' }), otp: { code: '482913' } },
      'x',
    );
    const line = JSON.parse(lines[0]!);
    expect(line.err.error_code).toBe('23505');
    expect(line.err.message).toBe('duplicate key');
    expect(lines[0]).not.toContain('482913');
  });
});
