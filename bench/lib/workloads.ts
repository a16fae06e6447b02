/**
 * What the load generator sends: otpd's send, verify and mixed flow, the
 * hello-world with bodies of the same sizes, and better-auth's send and
 * verify. Every send goes to a number never used before in its database,
 * and every verify consumes a pending OTP of its own.
 */
import type { ChildProcess } from 'node:child_process';
import type { Store } from '../../src/store/db.js';
import { post, type Workload } from './load.js';
import { phoneOf, SANDBOX_CODE, seedPending, type Tenant } from './seed.js';

/**
 * Phone families (`+97798<family>` + 7 digits, each a valid Nepali mobile
 * range): one per stream of numbers, so none collide within one database.
 * The scaling and drain runs have databases of their own.
 */
export const FAMILY = {
  send: 0,
  verify: 1,
  mixed: 2,
  history: 4,
  latency: 5,
} as const;

/** Numbers of one family, in order. */
export function numbers(family: number) {
  let n = 0;
  return () => phoneOf(family, n++);
}

/** More than the next `seconds` at `rps` can consume, with a margin. */
const needed = (seconds: number, rps: number) => Math.ceil(rps * seconds * 1.3) + 2000;

/** OTP sends to fresh numbers. */
export function otpdSend(name: string, key: string, family: number): Workload {
  const next = numbers(family);
  return {
    name,
    requests: [post('/v1/otp/send', { authorization: `Bearer ${key}` }, () => ({ phone: next() }))],
  };
}

/**
 * Verifies with the right code, each of a pending OTP seeded before the
 * round (by otp_id). Runs out only if a round goes 30% faster than any before.
 */
export function otpdVerify(
  name: string,
  key: string,
  store: Store,
  tenant: Tenant,
  family: number,
): Workload {
  const nextPhone = numbers(family);
  const pool: string[] = [];
  let used = 0;
  return {
    name,
    requests: [
      post('/v1/otp/verify', { authorization: `Bearer ${key}` }, () => ({
        otp_id: pool[Math.min(used++, pool.length - 1)],
        code: SANDBOX_CODE,
      })),
    ],
    async prepare(seconds, rps) {
      const missing = needed(seconds, rps) - (pool.length - used);
      if (missing <= 0) return;
      const phones = Array.from({ length: missing }, nextPhone);
      pool.push(...(await seedPending(store, tenant, phones)));
    },
  };
}

/**
 * The whole flow on each connection: send, a wrong guess, the right code.
 * The wrong guess answers 400 by design; `expectedNon2xx` counts those.
 */
export function otpdMixed(name: string, key: string): Workload & { expectedNon2xx(): number } {
  const next = numbers(FAMILY.mixed);
  const auth = { authorization: `Bearer ${key}` };
  let wrongGuesses = 0;
  return {
    name,
    perFlow: 3,
    expectedNon2xx: () => wrongGuesses,
    requests: [
      post(
        '/v1/otp/send',
        auth,
        () => ({ phone: next() }),
        (status, body, context) => {
          context.otpId =
            status === 201 ? (JSON.parse(body) as { data: { otp_id: string } }).data.otp_id : '';
        },
      ),
      post(
        '/v1/otp/verify',
        auth,
        (context) => ({ otp_id: context.otpId, code: '000000' }),
        (status) => {
          if (status === 400) wrongGuesses++;
        },
      ),
      post('/v1/otp/verify', auth, (context) => ({ otp_id: context.otpId, code: SANDBOX_CODE })),
    ],
  };
}

/** The hello-world with a body of the size of otpd's send or verify. */
export function hello(name: string, shape: 'send' | 'verify'): Workload {
  const next = numbers(FAMILY.send);
  return {
    name,
    requests: [
      post('/hello', {}, () =>
        shape === 'send'
          ? { phone: next() }
          : { otp_id: `otp_${next().slice(1)}abcdefghi`, code: SANDBOX_CODE },
      ),
    ],
  };
}

export function betterAuthSend(name: string): Workload {
  const next = numbers(FAMILY.send);
  return {
    name,
    requests: [post('/api/auth/phone-number/send-otp', {}, () => ({ phoneNumber: next() }))],
  };
}

/** Verifies numbers whose codes better-auth sent (through its own API) before the round. */
export function betterAuthVerify(name: string, child: ChildProcess): Workload {
  const nextPhone = numbers(FAMILY.verify);
  const pool: { phone: string; code: string }[] = [];
  let used = 0;
  return {
    name,
    requests: [
      post('/api/auth/phone-number/verify', {}, () => {
        const { phone, code } = pool[Math.min(used++, pool.length - 1)]!;
        return { phoneNumber: phone, code, disableSession: true };
      }),
    ],
    async prepare(seconds, rps) {
      const missing = needed(seconds, rps) - (pool.length - used);
      if (missing <= 0) return;
      const phones = Array.from({ length: missing }, nextPhone);
      const codes = await new Promise<string[]>((resolve) => {
        child.once('message', (m) => resolve((m as { codes: string[] }).codes));
        child.send({ type: 'precreate', phones });
      });
      for (const [i, phone] of phones.entries()) pool.push({ phone, code: codes[i]! });
    },
  };
}
