import { describe, expect, it } from 'vitest';
import { runChaos } from '../chaos/scenario.js';
import { backend } from '../harness.js';

/**
 * The short form of the chaos harness (the long one: `npm run chaos`).
 * otpd processes (the built CLI: `npm run build` first) take sends,
 * verifies, resends and template SMS while they are SIGKILLed at random
 * moments; on PostgreSQL two processes share a private cluster that is
 * crashed and restarted once. Then every invariant is checked: acknowledged
 * OTPs exist and behave by their status, none verified twice or after its
 * attempts ran out, every acknowledged message delivered and none submitted
 * twice, every webhook event received with a valid signature, the ledger
 * adds up; on SQLite, `PRAGMA integrity_check` is ok after each kill.
 */

const seed = Number(process.env.OTPD_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('chaos: SIGKILLs (and a database restart) under load', () => {
  it('keeps every invariant', { timeout: 150_000 }, async () => {
    const started = Date.now();
    const report = await runChaos({
      backend,
      kills: 4,
      processes: 2,
      seed,
      durationMs: 20_000,
      concurrency: 6,
      settleMs: 45_000,
    });
    const broken = report.invariants
      .filter((i) => i.violations.length > 0)
      .map((i) => `${i.name}:\n  ${i.violations.slice(0, 10).join('\n  ')}`);
    expect(broken, `seed ${seed}; figures ${JSON.stringify(report.figures)}`).toEqual([]);
    expect(report.unsettled).toEqual([]);
    expect(report.figures.kills).toBe(4);
    if (backend === 'postgres') expect(report.figures['PG restarts']).toBe(1);
    else expect(report.figures['integrity checks']).toBe(4);
    // Enough happened for the invariants to mean something.
    expect(report.figures['OTPs sent (acknowledged)']).toBeGreaterThan(40);
    expect(report.figures['OTPs verified (acknowledged)']).toBeGreaterThan(10);
    expect(report.figures['template SMS (acknowledged)']).toBeGreaterThan(5);
    expect(report.figures['webhook requests received']).toBeGreaterThan(50);
    expect(Date.now() - started).toBeLessThan(100_000);
  });
});
