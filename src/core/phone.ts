import { type CountryCode, parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { OtpdError } from './errors.js';

export interface Phone {
  /** E.164, the one form every limit and lookup uses. */
  e164: string;
  /** ISO 3166-1 alpha-2 of the number's region, when known. */
  country: string | undefined;
  /** libphonenumber's line type: MOBILE, FIXED_LINE, FIXED_LINE_OR_MOBILE, VOIP, … */
  type: string | undefined;
}

/**
 * Parses what a caller sent into E.164: `+977 984-1234567`, `009779841234567` and,
 * with default country NP, `9841234567` are all `+9779841234567`.
 */
export function parsePhone(input: string, defaultCountry?: string): Phone {
  let text = input.trim();
  // 00 is the international prefix in most of the world, and no national
  // number starts with it, so read it as '+' whatever the default country.
  if (/^00[1-9]/.test(text)) text = `+${text.slice(2)}`;
  let parsed: ReturnType<typeof parsePhoneNumberWithError>;
  try {
    parsed = parsePhoneNumberWithError(text, {
      defaultCountry: defaultCountry as CountryCode | undefined,
      extract: false,
    });
  } catch {
    throw phoneError(input);
  }
  if (!parsed.isValid()) throw phoneError(input);
  return { e164: parsed.number, country: parsed.country, type: parsed.getType() };
}

/** Numbers that can receive SMS and WhatsApp messages. */
export function canReceiveText(phone: Phone): boolean {
  return phone.type === 'MOBILE' || phone.type === 'FIXED_LINE_OR_MOBILE';
}

function phoneError(input: string): OtpdError {
  const shown = input.length > 32 ? `${input.slice(0, 32)}…` : input;
  return new OtpdError(
    'INVALID_PHONE_FORMAT',
    `"${shown}" is not a valid phone number; use E.164 (+9779841234567) or set the app's default_country.`,
    { field: 'phone' },
  );
}
