import { randomInt } from 'node:crypto';

export const CODE_TYPES = ['numeric', 'alphanumeric', 'alphabetic'] as const;
export type CodeType = (typeof CODE_TYPES)[number];

/** Alphabet and allowed length range per code type. */
export const CODE_SPECS: Record<
  CodeType,
  { alphabet: string; min: number; max: number; default: number; sandbox: string }
> = {
  numeric: { alphabet: '0123456789', min: 4, max: 8, default: 6, sandbox: '12345678' },
  // Uppercase without the look-alikes 0/O and 1/I.
  alphanumeric: {
    alphabet: 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789',
    min: 6,
    max: 12,
    default: 8,
    sandbox: 'ABC234DEF567',
  },
  alphabetic: { alphabet: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', min: 5, max: 10, default: 6, sandbox: 'ABCDEFGHIJ' },
};

/** A code from the CSPRNG: `randomInt` draws each character without modulo bias. */
export function generateCode(type: CodeType, length: number): string {
  const { alphabet } = CODE_SPECS[type];
  let code = '';
  for (let i = 0; i < length; i++) code += alphabet[randomInt(alphabet.length)];
  return code;
}

/** The fixed code of sandbox apps: `123456` for the default numeric policy. */
export function sandboxCode(type: CodeType, length: number): string {
  return CODE_SPECS[type].sandbox.slice(0, length);
}

/** Whether `code` could have been produced for this type and length. */
export function isWellFormedCode(type: CodeType, length: number, code: string): boolean {
  if (code.length !== length) return false;
  const { alphabet } = CODE_SPECS[type];
  for (const ch of code) if (!alphabet.includes(ch)) return false;
  return true;
}

/** What a user typed, normalised: spaces and dashes dropped, letters uppercased. */
export function normaliseSubmittedCode(type: CodeType, input: string): string {
  const stripped = input.replace(/[\s-]/g, '');
  return type === 'numeric' ? stripped : stripped.toUpperCase();
}
