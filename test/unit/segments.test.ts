import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countSegments } from '../../src/core/segments.js';
import { encodeText } from '../../src/delivery/providers/smpp.js';

describe('SMS segments', () => {
  it('counts GSM-7 texts as 160 in one part, else parts of 153', () => {
    expect(countSegments('')).toEqual({ encoding: 'gsm7', segments: 1 });
    expect(countSegments('a'.repeat(160))).toEqual({ encoding: 'gsm7', segments: 1 });
    expect(countSegments('a'.repeat(161))).toEqual({ encoding: 'gsm7', segments: 2 });
    expect(countSegments('a'.repeat(306))).toEqual({ encoding: 'gsm7', segments: 2 });
    expect(countSegments('a'.repeat(307))).toEqual({ encoding: 'gsm7', segments: 3 });
  });

  it('counts extension characters as two septets and never splits their escape', () => {
    expect(countSegments('€'.repeat(80)).segments).toBe(1);
    expect(countSegments('€'.repeat(81)).segments).toBe(2);
    // 152 septets then a two-septet character: it goes whole into the second part.
    expect(countSegments(`${'a'.repeat(152)}€${'a'.repeat(10)}`).segments).toBe(2);
    expect(countSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`).segments).toBe(3);
  });

  it('counts UCS-2 texts as 70 in one part, else parts of 67, surrogate pairs whole', () => {
    expect(countSegments('क'.repeat(70))).toEqual({ encoding: 'ucs2', segments: 1 });
    expect(countSegments('क'.repeat(71))).toEqual({ encoding: 'ucs2', segments: 2 });
    expect(countSegments('क'.repeat(134)).segments).toBe(2);
    expect(countSegments('क'.repeat(135)).segments).toBe(3);
    // One emoji makes the whole text UCS-2; it takes two units.
    expect(countSegments(`Your code is 123456 😀${'a'.repeat(48)}`)).toEqual({
      encoding: 'ucs2',
      segments: 1,
    });
    expect(countSegments(`${'a'.repeat(68)}😀`).segments).toBe(1);
    expect(countSegments(`${'a'.repeat(69)}😀`).segments).toBe(2);
  });

  it('agrees with the SMPP provider on every text', () => {
    const alphabet = fc.constantFrom(...'aZ09 @£€{}[]^~|\\\nèÄकñ😀'.split(/(?:)/u));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 400 }), (chars) => {
        const text = chars.join('');
        expect(countSegments(text).segments).toBe(encodeText(text).parts.length);
      }),
      { numRuns: 500 },
    );
  });
});
