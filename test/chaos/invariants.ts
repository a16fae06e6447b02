import { Webhook } from 'standardwebhooks';
import type { Store } from '../../src/store/db.js';
import type { OtpRow } from '../../src/store/otps.js';
import type { TestSmsc } from '../support/smsc.js';
import type { ReceivedWebhook } from '../support/webhook-receiver.js';
import type { IntegrityResult } from './chaos.js';
import { CODE_PATTERN, type LoadGenerator, type LoadRecords } from './load.js';
import { sleep } from './ports.js';
import type { UnexpectedExit } from './processes.js';

/** One invariant's verdict: how many things it looked at, and every one that broke it. */
export interface InvariantResult {
  name: string;
  checked: number;
  violations: string[];
}

export interface CheckInput {
  store: Store;
  appId: string;
  accountId: string;
  records: LoadRecords;
  load: LoadGenerator;
  smsc: TestSmsc;
  received: ReceivedWebhook[];
  webhookSecret: string;
  unreachable: Set<string>;
  unexpectedExits: UnexpectedExit[];
  /** Runs after the probe verifies (which cause events of their own), before the rest is read. */
  afterProbe: () => Promise<void>;
  /** When each SIGKILL happened (wall-clock ms), for the diagnostics. */
  killedAt: number[];
  /** SQLite only: the integrity check after each kill. */
  integrity?: IntegrityResult[];
}

const TERMINAL_MESSAGE = ['delivered', 'failed'];
/** The answer a verify with the right code must get, by the OTP's status. */
const PROBE_ANSWER: Record<string, string> = {
  pending: 'verified',
  verified: 'OTP_ALREADY_VERIFIED',
  max_attempts: 'MAX_ATTEMPTS_EXCEEDED',
  failed: 'OTP_DELIVERY_FAILED',
  expired: 'OTP_EXPIRED',
  canceled: 'OTP_CANCELED',
};

/**
 * Waits (bounded) until the system has settled: every message of the app
 * delivered or failed, no charge held, no webhook delivery owed, and every
 * event at the receiver. Answers what is still open when the time ran out.
 */
export async function settle(
  store: Store,
  appId: string,
  received: () => Set<string>,
  timeoutMs: number,
): Promise<{ ms: number; open: string[] }> {
  const started = Date.now();
  for (;;) {
    const db = store.db;
    const messages = await db
      .selectFrom('messages')
      .select(['id', 'status'])
      .where('app_id', '=', appId)
      .where('status', 'not in', TERMINAL_MESSAGE)
      .execute();
    const held = await db
      .selectFrom('charges')
      .select('message_id')
      .where('app_id', '=', appId)
      .where('state', '=', 'held')
      .execute();
    const owed = await db
      .selectFrom('webhook_deliveries')
      .select(['event_id', 'status'])
      .where('app_id', '=', appId)
      .where('status', 'in', ['pending', 'sending'])
      .execute();
    const events = await db.selectFrom('webhook_events').select('id').where('app_id', '=', appId).execute();
    const ids = received();
    const missing = events.filter((e) => !ids.has(e.id));
    const open = [
      ...(messages.length ? [`${messages.length} messages not delivered or failed`] : []),
      ...(held.length ? [`${held.length} charges held`] : []),
      ...(owed.length ? [`${owed.length} webhook deliveries owed`] : []),
      ...(missing.length ? [`${missing.length} events not received`] : []),
    ];
    if (open.length === 0 || Date.now() - started > timeoutMs) return { ms: Date.now() - started, open };
    await sleep(500);
  }
}

/** Reads the database, the SMSC's and the receiver's logs, and judges every invariant. */
export async function checkInvariants(input: CheckInput): Promise<InvariantResult[]> {
  const { store, appId, accountId, records, smsc } = input;
  const db = store.db;
  const results: InvariantResult[] = [];
  const result = (name: string) => {
    const r: InvariantResult = { name, checked: 0, violations: [] };
    results.push(r);
    return r;
  };

  const otps = new Map(
    (await db.selectFrom('otps').selectAll().where('app_id', '=', appId).execute()).map((o) => [
      o.id,
      o as OtpRow,
    ]),
  );
  const attempts = await db
    .selectFrom('otp_attempts')
    .select(['otp_id', 'outcome'])
    .where('app_id', '=', appId)
    .execute();
  const attemptsOf = new Map<string, string[]>();
  for (const a of attempts) attemptsOf.set(a.otp_id, [...(attemptsOf.get(a.otp_id) ?? []), a.outcome]);

  // 1. Every acknowledged send exists, for its phone.
  const exist = result('acknowledged OTPs exist');
  for (const [otpId, send] of records.sends) {
    exist.checked++;
    const row = otps.get(otpId);
    if (!row)
      exist.violations.push(`${otpId} (${send.phone}, ${send.flow}) acknowledged but not in the database`);
    else if (row.phone !== send.phone)
      exist.violations.push(`${otpId} has phone ${row.phone}, sent to ${send.phone}`);
  }

  // 2. Each OTP's row agrees with its status, and a verify with the right code answers by that status.
  const behaves = result('OTPs behave by their status');
  const verifiedAcks = new Map<string, number>();
  for (const v of records.verifies)
    if (v.outcome === 'verified') verifiedAcks.set(v.otpId, (verifiedAcks.get(v.otpId) ?? 0) + 1);
  for (const row of otps.values()) {
    behaves.checked++;
    const terminal = row.status !== 'pending';
    if (terminal && row.code_ciphertext !== null)
      behaves.violations.push(`${row.id} is ${row.status} but its code copy was not wiped`);
    if (row.status === 'verified' && row.verified_at === null)
      behaves.violations.push(`${row.id} is verified without verified_at`);
    if (row.status === 'max_attempts' && row.attempts !== row.max_attempts)
      behaves.violations.push(`${row.id} is max_attempts with ${row.attempts}/${row.max_attempts} attempts`);
    if (verifiedAcks.has(row.id) && row.status !== 'verified')
      behaves.violations.push(`${row.id} was answered verified:true but is ${row.status}`);
  }
  for (const [otpId, send] of records.sends) {
    const row = otps.get(otpId);
    if (!row) continue;
    if (send.flow === 'unreachable' && row.status !== 'failed')
      behaves.violations.push(`${otpId} to an unreachable number is ${row.status}, not failed`);
    const code = records.codes.get(otpId) ?? codeFromTexts(input.load.textsTo(send.phone));
    if (!code) {
      if (row.status !== 'failed' || send.flow !== 'unreachable')
        behaves.violations.push(`${otpId} (${row.status}): no code ever reached the SMSC`);
      continue;
    }
    const answer = await input.load.request('/v1/otp/verify', { otp_id: otpId, code });
    if (!answer) {
      behaves.violations.push(`${otpId}: the probe verify got no answer`);
      continue;
    }
    behaves.checked++;
    const got = answer.body?.data?.verified === true ? 'verified' : answer.body?.error?.code;
    if (got === 'verified') verifiedAcks.set(otpId, (verifiedAcks.get(otpId) ?? 0) + 1);
    if (got !== PROBE_ANSWER[row.status])
      behaves.violations.push(`${otpId} is ${row.status}: the right code answered ${answer.status} ${got}`);
  }

  await input.afterProbe();

  // 3. No OTP verified twice; attempts never beyond max_attempts.
  const once = result('no OTP verified twice');
  for (const row of otps.values()) {
    once.checked++;
    const acks = verifiedAcks.get(row.id) ?? 0;
    if (acks > 1) once.violations.push(`${row.id} answered verified:true ${acks} times`);
    const tries = attemptsOf.get(row.id) ?? [];
    if (row.attempts > row.max_attempts || tries.length > row.max_attempts)
      once.violations.push(
        `${row.id}: ${row.attempts} attempts counted, ${tries.length} recorded, max ${row.max_attempts}`,
      );
  }

  // 4. No verification after the attempts ran out.
  const exhausted = result('no verification after the attempts ran out');
  const byOtp = new Map<string, typeof records.verifies>();
  for (const v of records.verifies) byOtp.set(v.otpId, [...(byOtp.get(v.otpId) ?? []), v]);
  for (const [otpId, verifies] of byOtp) {
    exhausted.checked++;
    const ranOut = verifies
      .filter(
        (v) =>
          v.outcome === 'MAX_ATTEMPTS_EXCEEDED' || (v.outcome === 'INVALID_OTP' && v.attemptsRemaining === 0),
      )
      .map((v) => v.ackAt);
    const firstOut = ranOut.length ? Math.min(...ranOut) : Number.POSITIVE_INFINITY;
    for (const v of verifies)
      if (v.outcome === 'verified' && v.sentAt > firstOut)
        exhausted.violations.push(`${otpId} verified by a request sent after its attempts ran out`);
    const wrongAcks = verifies.filter((v) => !v.right && v.outcome === 'INVALID_OTP').length;
    const row = otps.get(otpId);
    if (row && row.status === 'verified' && wrongAcks >= row.max_attempts)
      exhausted.violations.push(`${otpId} verified after ${wrongAcks} acknowledged wrong codes`);
  }
  for (const row of otps.values()) {
    if (row.status !== 'verified') continue;
    const wrong = (attemptsOf.get(row.id) ?? []).filter((o) => o === 'incorrect').length;
    if (wrong >= row.max_attempts)
      exhausted.violations.push(`${row.id} is verified with ${wrong} incorrect attempts recorded`);
  }

  // 5. Every acknowledged message delivered at least once.
  const messages = await db
    .selectFrom('messages')
    .select([
      'id',
      'otp_id',
      'phone',
      'status',
      'error',
      'kind',
      'provider_message_id',
      'tries',
      'provider_tries',
      'submitted_at',
      'sent_at',
      'created_at',
    ])
    .where('app_id', '=', appId)
    .execute();
  const messagesOfOtp = new Map<string, typeof messages>();
  for (const m of messages)
    if (m.otp_id) messagesOfOtp.set(m.otp_id, [...(messagesOfOtp.get(m.otp_id) ?? []), m]);
  const delivered = result('acknowledged messages delivered');
  for (const [otpId, send] of records.sends) {
    delivered.checked++;
    const own = messagesOfOtp.get(otpId) ?? [];
    const expected = 1 + (records.resends.get(otpId) ?? 0);
    const unreachable = input.unreachable.has(send.phone.slice(1));
    if (own.length < expected)
      delivered.violations.push(`${otpId}: ${expected} sends acknowledged, ${own.length} messages`);
    const ended = otps.get(otpId)?.status !== 'pending';
    for (const m of own) {
      // A resend still queued (never handed to the SMSC) when the OTP was verified or ran out is failed: nothing is owed.
      if (m.status === 'failed' && ended && !unreachable && m.submitted_at === null) continue;
      if (m.status !== (unreachable ? 'failed' : 'delivered'))
        delivered.violations.push(`${m.id} of ${otpId} (${send.flow}) is ${m.status} ${m.error ?? ''}`);
    }
    const texts = input.load.textsTo(send.phone).length;
    const out = own.filter((m) => m.provider_message_id !== null).length;
    if (texts < out) delivered.violations.push(`${otpId}: ${out} messages sent, ${texts} reached the SMSC`);
  }
  const byId = new Map(messages.map((m) => [m.id, m]));
  for (const [messageId, sms] of records.sms) {
    delivered.checked++;
    const m = byId.get(messageId);
    if (!m)
      delivered.violations.push(`${messageId} (sms to ${sms.phone}) acknowledged but not in the database`);
    else if (m.status !== 'delivered')
      delivered.violations.push(`${messageId} (sms) is ${m.status} ${m.error ?? ''}`);
    if (!input.load.textsTo(sms.phone).includes(sms.text))
      delivered.violations.push(`${messageId}: its text never reached the SMSC`);
  }

  // 6. None submitted twice by one attempt: the SMSC took at most one submit per message.
  const twice = result('no message submitted twice');
  const messagesPerPhone = new Map<string, number>();
  for (const m of messages) messagesPerPhone.set(m.phone, (messagesPerPhone.get(m.phone) ?? 0) + 1);
  const submitsPerPhone = new Map<string, number>();
  for (const s of smsc.submits)
    if (s.message_id !== null)
      submitsPerPhone.set(`+${s.destination_addr}`, (submitsPerPhone.get(`+${s.destination_addr}`) ?? 0) + 1);
  const t0 = messages.length > 0 ? Math.min(...messages.map((m) => m.created_at)) : 0;
  const submitDetail = (phone: string) =>
    [
      ...messages
        .filter((m) => m.phone === phone)
        .map(
          (m) =>
            `message ${m.id} ${m.status} provider_id=${m.provider_message_id} tries=${m.tries}/${m.provider_tries} created=+${m.created_at - t0} submitted=+${(m.submitted_at ?? t0) - t0} sent=+${(m.sent_at ?? t0) - t0} ${m.error ?? ''}`,
        ),
      ...smsc.submits
        .filter((s) => `+${s.destination_addr}` === phone)
        .map(
          (s) =>
            `submit ${s.message_id} at=+${Math.round(performance.timeOrigin + s.at - t0)} answered=${s.answered} seq=${s.sequence_number} "${s.text}"`,
        ),
      `kills at ${input.killedAt.map((k) => `+${k - t0}`).join(' ')}`,
    ].join('\n');
  for (const [phone, submits] of submitsPerPhone) {
    twice.checked++;
    const own = messagesPerPhone.get(phone) ?? 0;
    if (submits > own)
      twice.violations.push(`${phone}: ${submits} submits for ${own} messages\n${submitDetail(phone)}`);
  }

  // 7. Every webhook event received at least once, each request validly signed.
  const hooks = result('webhook events received, signatures valid');
  const wh = new Webhook(input.webhookSecret);
  const receivedIds = new Set<string>();
  for (const r of input.received) {
    hooks.checked++;
    const id = r.headers['webhook-id'] ?? '';
    const timestamp = Number(r.headers['webhook-timestamp']);
    const expected = wh.sign(id, new Date(timestamp * 1000), r.body);
    const signatures = (r.headers['webhook-signature'] ?? '').split(' ');
    if (!signatures.includes(expected)) hooks.violations.push(`${id}: signature does not verify`);
    else if (Math.abs(timestamp * 1000 - r.at) > 300_000)
      hooks.violations.push(`${id}: timestamp off by > 5 min`);
    else receivedIds.add(id);
  }
  const events = await db
    .selectFrom('webhook_events')
    .select(['id', 'type', 'payload'])
    .where('app_id', '=', appId)
    .execute();
  const typesOf = new Map<string, Set<string>>();
  for (const e of events) {
    hooks.checked++;
    if (!receivedIds.has(e.id)) hooks.violations.push(`${e.id} (${e.type}) never received`);
    const data = JSON.parse(e.payload).data ?? {};
    const subject = (
      e.type.startsWith('otp.') ? data.otp_id : e.type.startsWith('sms.') ? data.message_id : undefined
    ) as string | undefined;
    if (subject) typesOf.set(subject, (typesOf.get(subject) ?? new Set()).add(e.type));
  }
  for (const [otpId, send] of records.sends) {
    const types = typesOf.get(otpId) ?? new Set();
    const expected = send.flow === 'unreachable' ? ['otp.sent', 'otp.failed'] : ['otp.sent', 'otp.delivered'];
    if (otps.get(otpId)?.status === 'verified') expected.push('otp.verified');
    const absent = expected.filter((type) => !types.has(type));
    if (absent.length > 0)
      hooks.violations.push(`${otpId} has no ${absent.join(', ')} event\n${await otpDetail(otpId)}`);
  }
  async function otpDetail(otpId: string): Promise<string> {
    const activity = await db
      .selectFrom('activity_log')
      .select(['type', 'detail', 'created_at'])
      .where('otp_id', '=', otpId)
      .orderBy('created_at')
      .execute();
    return [
      ...(messagesOfOtp.get(otpId) ?? []).map(
        (m) =>
          `message ${m.id} ${m.status} provider_id=${m.provider_message_id} tries=${m.tries} created=+${m.created_at - t0} submitted=+${(m.submitted_at ?? t0) - t0} sent=+${(m.sent_at ?? t0) - t0} ${m.error ?? ''}`,
      ),
      ...activity.map((a) => `activity ${a.type} +${a.created_at - t0} ${a.detail}`),
      `kills at ${input.killedAt.map((k) => `+${k - t0}`).join(' ')}`,
    ].join('\n');
  }
  for (const messageId of records.sms.keys()) {
    const types = typesOf.get(messageId) ?? new Set();
    for (const type of ['sms.sent', 'sms.delivered'])
      if (!types.has(type)) hooks.violations.push(`${messageId} has no ${type} event`);
  }

  // 8. Money: ledger sum = balance ≥ 0, held = held charges, each charge settled once, by its outcome.
  const money = result('ledger adds up, no negative balance, no delivered message uncharged');
  const account = await db
    .selectFrom('accounts')
    .select('balance')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow();
  const entries = await db
    .selectFrom('ledger_entries')
    .selectAll()
    .where('account_id', '=', accountId)
    .execute();
  const charges = await db.selectFrom('charges').selectAll().where('account_id', '=', accountId).execute();
  const balance = Number(account.balance);
  const sum = entries.reduce((s, e) => s + Number(e.amount), 0);
  const heldSum = entries.reduce((s, e) => s + Number(e.held_change), 0);
  const heldCharges = charges.filter((c) => c.state === 'held').reduce((s, c) => s + Number(c.amount), 0);
  money.checked += entries.length;
  if (sum !== balance) money.violations.push(`ledger sums to ${sum}, balance is ${balance}`);
  if (balance < 0) money.violations.push(`balance is negative: ${balance}`);
  for (const e of entries)
    if (Number(e.balance_after) < 0) money.violations.push(`${e.id} left the balance at ${e.balance_after}`);
  if (heldSum !== heldCharges) money.violations.push(`ledger holds ${heldSum}, held charges ${heldCharges}`);
  const chargeOf = new Map(charges.map((c) => [c.message_id, c]));
  const entriesOf = new Map<string, string[]>();
  for (const e of entries) entriesOf.set(e.reference, [...(entriesOf.get(e.reference) ?? []), e.type]);
  for (const m of messages) {
    money.checked++;
    const charge = chargeOf.get(m.id);
    if (!charge) {
      money.violations.push(`${m.id} (${m.status}) has no charge`);
      continue;
    }
    const want = m.status === 'delivered' ? 'captured' : m.status === 'failed' ? 'released' : 'held';
    if (charge.state !== want) money.violations.push(`${m.id} is ${m.status}, its charge ${charge.state}`);
    const types = (entriesOf.get(m.id) ?? []).sort().join(',');
    const expected =
      { captured: 'capture,hold', released: 'hold,release', held: 'hold' }[charge.state] ?? '?';
    if (types !== expected) money.violations.push(`${m.id}: ledger entries ${types}, charge ${charge.state}`);
  }

  // What the SMSC delivered is charged: per number, at least as many captures as messages it took.
  const capturedPerPhone = new Map<string, number>();
  for (const m of messages)
    if (chargeOf.get(m.id)?.state === 'captured')
      capturedPerPhone.set(m.phone, (capturedPerPhone.get(m.phone) ?? 0) + 1);
  for (const [phone, submits] of submitsPerPhone) {
    if (input.unreachable.has(phone.slice(1))) continue;
    money.checked++;
    const owed = Math.min(submits, messagesPerPhone.get(phone) ?? 0);
    const captured = capturedPerPhone.get(phone) ?? 0;
    if (captured < owed)
      money.violations.push(
        `${phone}: the SMSC delivered ${submits} submits of ${messagesPerPhone.get(phone) ?? 0} messages, ${captured} charged\n${submitDetail(phone)}`,
      );
  }

  // 9. Processes die only when killed.
  const exits = result('no process exited unless killed');
  exits.checked = input.unexpectedExits.length;
  for (const e of input.unexpectedExits)
    exits.violations.push(
      `slot ${e.slot} exited (${e.code ?? e.signal}) at +${e.at - t0}:\n${crashLines(e.tail)}`,
    );

  // 10. SQLite: a killed process never leaves the database needing repair.
  if (input.integrity) {
    const integrity = result('SQLite integrity_check ok after each kill');
    for (const check of input.integrity) {
      integrity.checked++;
      if (check.result !== 'ok') integrity.violations.push(`after kill ${check.kill}: ${check.result}`);
    }
  }
  return results;
}

function codeFromTexts(texts: string[]): string | undefined {
  for (const t of texts) {
    const match = t.match(CODE_PATTERN);
    if (match) return match[1];
  }
  return undefined;
}

/** The error lines of a crashed process's output (the stack's first frames), not its whole log. */
function crashLines(tail: string): string {
  const lines = tail.trim().split('\n');
  const first = lines.findIndex((l) => /Error|error:|Uncaught|throw/.test(l));
  return lines.slice(first < 0 ? -6 : first, (first < 0 ? lines.length : first) + 6).join('\n');
}
