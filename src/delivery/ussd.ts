import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { decrypt, safeEqual, sha256 } from '../core/crypto.js';
import { OtpdError } from '../core/errors.js';
import { type Phone, parsePhone } from '../core/phone.js';
import { takeFromWindow } from '../store/rate-limits.js';
import { findPendingCodesForPhone } from '../store/ussd.js';
import type { UssdSpec } from './config.js';

/**
 * The USSD fallback: when a text is late, the user dials the operator's USSD
 * code and reads the pending code on screen. The gateway (Africa's Talking
 * and the many gateways shaped like it) posts `sessionId, serviceCode,
 * phoneNumber, text` for every step and shows what we answer: `CON <menu>`
 * keeps the session open, `END <message>` closes it.
 *
 * Codes are shown only for `phoneNumber`, the caller's number as the carrier
 * reports it. A number typed into the menu is never looked up: it would let
 * anyone read anyone's code.
 */

/** One step of a USSD session, as the gateway posts it. */
export interface UssdStep {
  sessionId: string;
  serviceCode: string;
  phoneNumber: string;
  /** The user's inputs so far joined by `*`; empty on the first screen. */
  text: string;
}

/** What the gateway presents to authenticate itself. */
export interface UssdCaller {
  secret: string | undefined;
  ip: string;
}

/** Longest screen most handsets show in one USSD message. */
export const USSD_SCREEN_LIMIT = 182;
/** Codes shown on one screen, newest first. */
const MAX_CODES = 3;
/** Reads per phone per hour: enough for a late SMS, too few to farm a stolen SIM's codes. */
export const READS_PER_HOUR = 5;
const HOUR_MS = 3_600_000;
/** Longest app name shown, so that three codes fit on one screen. */
const APP_NAME_CHARS = 24;

export const SCREENS = {
  menu: 'CON 1. Show my verification code(s)\n2. Code for another number',
  otherNumber: 'END Codes are shown only on the phone they were sent to.',
  invalidChoice: 'END Invalid choice.',
  noCode: 'END No pending code for this number.',
  unreadableNumber: 'END Your number could not be read. Please wait for the SMS.',
  wrongServiceCode: 'END Unknown service code.',
  tooMany: 'END Too many requests. Try again later.',
} as const;

/**
 * Refuses a gateway that fails any configured check: the shared secret
 * (compared in constant time) and the allowed addresses. A configuration with
 * neither would let anyone in, so it is refused too.
 */
export function checkUssdGateway(spec: UssdSpec, caller: UssdCaller): void {
  if (spec.secret === undefined && spec.allowed_ips === undefined) {
    throw new OtpdError(
      'INVALID_SIGNATURE',
      'The USSD gateway is not authenticated: configure ussd.secret or ussd.allowed_ips.',
    );
  }
  // Hashing first makes the comparison independent of the secret's length too.
  if (spec.secret !== undefined && !safeEqual(sha256(spec.secret), sha256(caller.secret ?? ''))) {
    throw new OtpdError('INVALID_SIGNATURE', 'The USSD secret is missing or wrong.');
  }
  if (spec.allowed_ips !== undefined && !spec.allowed_ips.includes(plainIp(caller.ip))) {
    throw new OtpdError('INVALID_SIGNATURE', 'The USSD gateway address is not allowed.');
  }
}

/** `::ffff:10.0.0.7` (an IPv4 client on a dual-stack socket) is `10.0.0.7`. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** Answers one step of a session with the next screen (`CON …` or `END …`). */
export async function answerUssd(ctx: Context, spec: UssdSpec, step: UssdStep): Promise<string> {
  if (spec.service_code !== undefined && step.serviceCode.trim() !== spec.service_code) {
    return SCREENS.wrongServiceCode;
  }
  const inputs = step.text === '' ? [] : step.text.split('*').map((input) => input.trim());
  // Checked before anything else: whatever the path, a typed number is never looked up.
  if (inputs.some(looksLikePhone)) return SCREENS.otherNumber;
  if (inputs.length === 0) return SCREENS.menu;
  if (inputs.length > 1) return SCREENS.invalidChoice;
  if (inputs[0] === '2') return SCREENS.otherNumber;
  if (inputs[0] !== '1') return SCREENS.invalidChoice;

  const phone = callerPhone(step.phoneNumber);
  if (!phone) return SCREENS.unreadableNumber;
  return showCodes(ctx, phone.e164, step.sessionId);
}

async function showCodes(ctx: Context, phone: string, sessionId: string): Promise<string> {
  const now = ctx.clock.now();
  // The guarded upsert makes the count exact under parallel sessions.
  if (!(await takeFromWindow(ctx.store.db, `ussd:${phone}`, READS_PER_HOUR, HOUR_MS, now))) {
    ctx.log.warn({ session_id: sessionId }, 'ussd: read limit reached');
    return SCREENS.tooMany;
  }
  const rows = await findPendingCodesForPhone(ctx.store.db, phone, now, MAX_CODES);
  const lines: { row: (typeof rows)[number]; line: string }[] = [];
  let screen = 'END';
  for (const row of rows) {
    const minutes = Math.max(1, Math.ceil((row.expires_at - now) / 60_000));
    const line = `${appLabel(row.app_name)}: ${decrypt(ctx.keyring, row.code_ciphertext, row.id)} (expires in ${minutes} min)`;
    const next = `${screen}${lines.length === 0 ? ' ' : '\n'}${line}`;
    if (next.length > USSD_SCREEN_LIMIT) break;
    screen = next;
    lines.push({ row, line });
  }
  if (lines.length === 0) return SCREENS.noCode;

  // Logged before the screen leaves: a code is never shown without its entry.
  await ctx.store.tx(async (trx) => {
    for (const { row } of lines) {
      await recordActivity(trx, now, {
        account_id: row.account_id,
        app_id: row.app_id,
        type: 'otp.ussd_read',
        otp_id: row.id,
        detail: { session_id: sessionId },
      });
    }
  });
  ctx.log.info({ session_id: sessionId, otp_ids: lines.map(({ row }) => row.id) }, 'ussd: codes shown');
  return screen;
}

/**
 * The caller's number as the carrier reports it. Gateways send it in
 * international form, some without the `+`; a national number cannot be
 * placed without a country and is not guessed at.
 */
function callerPhone(reported: string): Phone | undefined {
  const text = reported.trim();
  for (const candidate of /^[0-9]{8,15}$/.test(text) ? [text, `+${text}`] : [text]) {
    try {
      return parsePhone(candidate);
    } catch {
      // try the next form
    }
  }
  return undefined;
}

/** A menu choice is one or two digits; a number is longer or has a `+`. */
function looksLikePhone(input: string): boolean {
  const compact = input.replace(/[\s().-]/g, '');
  return compact.includes('+') || /[0-9]{6,}/.test(compact);
}

/** App names are the operator's text: one line, short enough for three codes. */
function appLabel(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const line = name.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > APP_NAME_CHARS ? line.slice(0, APP_NAME_CHARS).trimEnd() : line;
}
