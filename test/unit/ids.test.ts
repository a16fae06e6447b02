import { describe, expect, it } from 'vitest';
import { newId, randomBase62 } from '../../src/core/ids.js';

describe('ids', () => {
  it('are unique and sort in the order they were issued, within and across milliseconds', () => {
    const ids: string[] = [];
    for (let i = 0; i < 50_000; i++) ids.push(newId('otp', 1_700_000_000_000 + Math.floor(i / 500)));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^otp_[0-9A-Za-z]{22}$/);
  });

  it('random text uses the whole base62 alphabet without bias', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++)
      for (const c of randomBase62(31)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // 310,000 characters: 5,000 expected each; 6 sigma is about 420.
    for (const n of counts.values()) expect(Math.abs(n - 5_000)).toBeLessThan(450);
  });
});
