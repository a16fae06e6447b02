import { describe, expect, it } from 'vitest';
import { Rounds } from '../../src/core/rounds.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('Rounds', () => {
  it('runs again at once while rounds are full or rung, then waits for the poll; stop waits for the round', async () => {
    let calls = 0;
    let release: (() => void) | undefined;
    const rounds = new Rounds(
      async () => {
        calls++;
        if (calls === 3) await new Promise<void>((r) => (release = r));
        return calls < 2; // the first is full
      },
      60_000,
      () => {},
    );
    rounds.wake(); // not started: nothing
    await tick();
    expect(calls).toBe(0);
    rounds.start();
    await tick();
    expect(calls).toBe(2); // full, then one more, then the long poll
    rounds.wake();
    await tick();
    expect(calls).toBe(3); // running, held
    rounds.wake(); // rung during the round
    release!();
    await tick();
    expect(calls).toBe(4);
    await rounds.stop();
    rounds.wake();
    await tick();
    expect(calls).toBe(4);
  });

  it('reports a failed round and goes on', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const rounds = new Rounds(
      async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return false;
      },
      1,
      (e) => errors.push(e),
    );
    rounds.start();
    await tick(30);
    await rounds.stop();
    expect(errors).toEqual([new Error('boom')]);
    expect(calls).toBeGreaterThan(1);
  });
});
