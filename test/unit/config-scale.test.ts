import { availableParallelism } from 'node:os';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseProcesses, parseTrustProxy } from '../../src/config.js';
import type { Context } from '../../src/context.js';
import { systemClock } from '../../src/core/clock.js';
import { deriveKeyring } from '../../src/core/crypto.js';
import { buildServer } from '../../src/http/server.js';
import { openStore } from '../../src/store/db.js';

const SECRET = 'test-secret-0123456789abcdef-0123456789';

describe('scale-out settings', () => {
  it('reads processes, pool, timeouts and trusted proxies, with their defaults', () => {
    const env = { OTPD_SECRET: SECRET, OTPD_DATA_DIR: '/tmp/otpd-config-scale' };
    expect(loadConfig(env)).toMatchObject({
      processes: 1,
      dbPoolSize: 10,
      dbTimeoutMs: 2_000,
      dbStatementTimeoutMs: 10_000,
      shutdownTimeoutMs: 10_000,
      trustProxy: false,
    });
    expect(
      loadConfig(
        {
          ...env,
          OTPD_PROCESSES: '4',
          OTPD_DB_POOL: '3',
          OTPD_DB_TIMEOUT: '1',
          OTPD_DB_STATEMENT_TIMEOUT: '0',
          OTPD_SHUTDOWN_TIMEOUT: '30',
          OTPD_TRUST_PROXY: '10.0.0.0/8, 192.168.1.7',
        },
        { processes: '2' },
      ),
    ).toMatchObject({
      processes: 2,
      dbPoolSize: 3,
      dbTimeoutMs: 1_000,
      dbStatementTimeoutMs: 0,
      shutdownTimeoutMs: 30_000,
      trustProxy: ['10.0.0.0/8', '192.168.1.7'],
    });
    expect(parseProcesses('auto')).toBe(availableParallelism());
  });

  it('refuses bad values with one line that names the setting', () => {
    expect(() => parseProcesses('0')).toThrow(/OTPD_PROCESSES must be/);
    expect(() => parseProcesses('many', '--processes')).toThrow(/--processes must be/);
    expect(() => parseTrustProxy('10.0.0.0/33')).toThrow(ConfigError);
    expect(() => parseTrustProxy('proxy.example')).toThrow(/OTPD_TRUST_PROXY/);
    expect(() => loadConfig({ OTPD_SECRET: SECRET, OTPD_DB_POOL: '0' })).toThrow(/OTPD_DB_POOL/);
    expect(() => loadConfig({ OTPD_SECRET: SECRET, OTPD_SHUTDOWN_TIMEOUT: '2s' })).toThrow(
      /OTPD_SHUTDOWN_TIMEOUT/,
    );
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('2')).toBe(2);
    expect(parseTrustProxy('off')).toBe(false);
  });

  it('takes the client address from X-Forwarded-For only from trusted proxies', async () => {
    const store = await openStore({ url: ':memory:' });
    const ctx: Context = {
      store,
      clock: systemClock,
      keyring: deriveKeyring(SECRET),
      log: pino({ level: 'silent' }),
      wakeDelivery: () => {},
    };
    const ipSeen = async (trustProxy: ReturnType<typeof parseTrustProxy>, remoteAddress: string) => {
      const app = await buildServer(ctx, { trustProxy });
      app.get('/test-ip', async (request) => ({ ip: request.ip }));
      const res = await app.inject({
        method: 'GET',
        url: '/test-ip',
        remoteAddress,
        headers: { 'x-forwarded-for': '203.0.113.9, 10.1.2.3' },
      });
      await app.close();
      return res.json().ip as string;
    };
    try {
      expect(await ipSeen(false, '10.0.0.5')).toBe('10.0.0.5');
      expect(await ipSeen(parseTrustProxy('10.0.0.0/8'), '10.0.0.5')).toBe('203.0.113.9');
      // A proxy that is not on the list is not believed.
      expect(await ipSeen(parseTrustProxy('10.0.0.0/8'), '198.51.100.1')).toBe('198.51.100.1');
      // One hop: the proxy nearest to otpd is believed, the address it got is the client's.
      expect(await ipSeen(1, '10.0.0.5')).toBe('10.1.2.3');
      expect(await ipSeen(true, '10.0.0.5')).toBe('203.0.113.9');
    } finally {
      await store.close();
    }
  });
});
