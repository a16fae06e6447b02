import { invalid } from './errors.js';

const PLACEHOLDER = /\{(\w+)\}/g;
const KNOWN = new Set(['code', 'minutes', 'app']);

/** Rejects a template whose placeholders are not {code}, {minutes}, {app}, or lacks {code}. */
export function checkOtpTemplate(template: string, field = 'message'): void {
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (!KNOWN.has(name!)) {
      throw invalid(field, `Unknown placeholder {${name}}; use {code}, {minutes} or {app}.`);
    }
  }
  if (!template.includes('{code}')) throw invalid(field, `${field} must contain {code}.`);
}

/** The text of an OTP message. */
export function renderOtpMessage(
  template: string,
  values: { code: string; minutes: number; app: string },
): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (name === 'code') return values.code;
    if (name === 'minutes') return String(values.minutes);
    if (name === 'app') return values.app;
    return whole;
  });
}
