/**
 * How many SMS parts a text takes, as an SMSC counts them: GSM 03.38 (7-bit)
 * when every character has a code there (extension characters take two
 * septets), else UCS-2. One part holds 160 septets or 70 UCS-2 units; a
 * longer text goes in parts of 153 septets or 67 units (the rest is the
 * concatenation header), never split inside an escape sequence or a
 * surrogate pair. The SMPP provider splits texts the same way; prices per
 * segment are held by this count.
 */

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';

/** Septets each GSM character takes; a character missing here needs UCS-2. */
const SEPTETS = new Map<string, number>();
for (const char of GSM_BASIC) if (char !== '\u001b') SEPTETS.set(char, 1);
for (const char of GSM_EXTENSION) SEPTETS.set(char, 2);

export type SmsEncoding = 'gsm7' | 'ucs2';

/** Units of one part: septets for GSM-7, UTF-16 code units for UCS-2. */
const LIMITS: Record<SmsEncoding, { single: number; part: number }> = {
  gsm7: { single: 160, part: 153 },
  ucs2: { single: 70, part: 67 },
};

export interface SmsSegments {
  encoding: SmsEncoding;
  /** Parts the text takes (at least 1, also for an empty text). */
  segments: number;
}

export function countSegments(text: string): SmsSegments {
  const chars = [...text];
  const gsm = chars.every((c) => SEPTETS.has(c));
  const encoding: SmsEncoding = gsm ? 'gsm7' : 'ucs2';
  // Each character's size in its encoding's units: an astral character is a surrogate pair.
  const sizes = chars.map((c) => (gsm ? SEPTETS.get(c)! : c.length));
  const limit = LIMITS[encoding];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total <= limit.single) return { encoding, segments: 1 };
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > limit.part) {
      segments++;
      used = 0;
    }
    used += size;
  }
  return { encoding, segments };
}
