import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/core/group-commit.js';

describe('GroupCommit', () => {
  it('flushes the first item at once and groups those that come meanwhile', async () => {
    const flushes: number[][] = [];
    const group = new GroupCommit(async (items: number[]) => {
      flushes.push(items);
      await new Promise((r) => setTimeout(r, 5));
      return items.map((n) => n * 2);
    });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => group.add(i)));
    expect(answers).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(flushes).toEqual([[0], [1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  });

  it('caps a flush at its maximum', async () => {
    const sizes: number[] = [];
    const group = new GroupCommit(async (items: number[]) => {
      sizes.push(items.length);
      return items;
    }, 3);
    await Promise.all(Array.from({ length: 8 }, (_, i) => group.add(i)));
    expect(sizes).toEqual([1, 3, 3, 1]);
  });

  it('writes the items of a failed flush again one by one: only the one at fault fails', async () => {
    const flushes: string[][] = [];
    const group = new GroupCommit(async (items: string[]) => {
      flushes.push(items);
      await new Promise((r) => setTimeout(r, 1));
      if (items.includes('bad')) throw new Error('write failed');
      return items;
    });
    const first = group.add('a');
    const rest = [group.add('b'), group.add('bad'), group.add('c')];
    await expect(first).resolves.toBe('a');
    await expect(Promise.allSettled(rest)).resolves.toEqual([
      { status: 'fulfilled', value: 'b' },
      { status: 'rejected', reason: new Error('write failed') },
      { status: 'fulfilled', value: 'c' },
    ]);
    expect(flushes).toEqual([['a'], ['b', 'bad', 'c'], ['b'], ['bad'], ['c']]);
    await expect(group.add('d')).resolves.toBe('d');
  });
});
