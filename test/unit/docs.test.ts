import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/core/errors.js';

const apiDoc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');

describe('docs/api.md', () => {
  it.each(Object.entries(ERRORS))('documents %s with its HTTP status', (code, { status }) => {
    const row = apiDoc.split('\n').find((line) => line.includes(`\`${code}\``) && line.startsWith('|'));
    expect(row, `no row for ${code}`).toBeDefined();
    expect(row!.startsWith(`| ${status} |`)).toBe(true);
  });
});
