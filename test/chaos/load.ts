import { randomUUID } from 'node:crypto';
import type { TestSmsc } from '../support/smsc.js';
import { sleep } from './ports.js';

/** An answer the client received: only these bind the invariants. */
export interface Answer {
  status: number;
  body: any;
  /** When the request left (first try) and when its answer arrived. */
  sentAt: number;
  ackAt: number;
}

export interface VerifyRecord {
  otpId: string;
  right: boolean;
  sentAt: number;
  ackAt: number;
  status: number;
  /** `verified`, or the error code. */
  outcome: string;
  attemptsRemaining?: number;
}

export type FlowKind = 'verify' | 'exhaust' | 'double' | 'resend' | 'sms' | 'unreachable';

/** Everything the load generator was told: what the checker holds otpd to. */
export interface LoadRecords {
  /** Acknowledged sends (201): otp id → phone and flow. */
  sends: Map<string, { phone: string; flow: FlowKind }>;
  /** Acknowledged resends (200) per OTP. */
  resends: Map<string, number>;
  verifies: VerifyRecord[];
  /** Acknowledged template SMS (201): message id → phone and text. */
  sms: Map<string, { phone: string; text: string }>;
  /** Codes read off the SMSC, by OTP. */
  codes: Map<string, string>;
  /** Logical requests (one Idempotency-Key each) and how many got no answer. */
  requests: number;
  unacknowledged: number;
  /** HTTP tries, including retries after a refused connection. */
  tries: number;
  /** Answers other than the expected ones, by `status code` (rate limits, 5xx that stayed). */
  unexpected: Record<string, number>;
}

export interface LoadOptions {
  /** Base URLs of the otpd processes (fixed across restarts). */
  urls: string[];
  key: string;
  templateId: string;
  smsc: TestSmsc;
  /** Phones whose messages the SMSC reports undeliverable (the generator adds to it). */
  unreachable: Set<string>;
  concurrency: number;
  random: () => number;
  /** A distinct number block for this run: `+977984` + prefix digit + 6 digits (all valid NP mobiles). */
  phonePrefix: string;
}

/** The code in an OTP text as the app's message template words it. */
export const CODE_PATTERN = /code is (\d{6})/;

/**
 * Concurrent flows spread over the processes: send → wrong guesses →
 * verify with the code read off the SMSC, resends, exhaustion, double
 * verifies, template SMS and undeliverable numbers. A request whose answer
 * never arrived is retried on another process with the same Idempotency-Key
 * for a while, then counted unacknowledged.
 */
export class LoadGenerator {
  readonly records: LoadRecords = {
    sends: new Map(),
    resends: new Map(),
    verifies: [],
    sms: new Map(),
    codes: new Map(),
    requests: 0,
    unacknowledged: 0,
    tries: 0,
    unexpected: {},
  };
  private stopping = false;
  private running: Promise<void>[] = [];
  private phoneCounter = 0;
  private smsCounter = 0;
  private scanned = 0;
  private readonly texts = new Map<string, string[]>();

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    for (let i = 0; i < this.options.concurrency; i++) this.running.push(this.loop());
  }

  /** Stops starting flows and waits for the ones in hand. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  /** Texts the SMSC accepted for a phone (`+` stripped), in order. */
  textsTo(phone: string): string[] {
    const submits = this.options.smsc.submits;
    for (; this.scanned < submits.length; this.scanned++) {
      const s = submits[this.scanned]!;
      if (s.message_id === null) continue;
      this.texts.set(s.destination_addr, [...(this.texts.get(s.destination_addr) ?? []), s.text]);
    }
    return this.texts.get(phone.replace(/^\+/, '')) ?? [];
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const r = this.options.random();
      try {
        if (r < 0.35) await this.verifyFlow();
        else if (r < 0.47) await this.exhaustFlow();
        else if (r < 0.57) await this.doubleFlow();
        else if (r < 0.65) await this.resendFlow();
        else if (r < 0.9) await this.smsFlow();
        else await this.unreachableFlow();
      } catch (error) {
        const key = `flow error ${(error as Error).message}`;
        this.records.unexpected[key] = (this.records.unexpected[key] ?? 0) + 1;
      }
    }
  }

  private nextPhone(): string {
    return `+977984${this.options.phonePrefix}${String(++this.phoneCounter).padStart(6, '0')}`;
  }

  private pick(): string {
    const { urls, random } = this.options;
    return urls[Math.floor(random() * urls.length)]!;
  }

  /**
   * One logical request: tried on a random process, retried (same
   * Idempotency-Key, another process) while no answer comes or the answer
   * is one a retry may change; `undefined` when it stayed unanswered.
   */
  async request(path: string, body: unknown): Promise<Answer | undefined> {
    const key = randomUUID();
    const sentAt = Date.now();
    this.records.requests++;
    for (let attempt = 0; attempt < 6; attempt++) {
      this.records.tries++;
      try {
        const res = await fetch(`${this.pick()}${path}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.options.key}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const json = (await res.json()) as any;
        const code = json?.error?.code as string | undefined;
        // Not kept by the idempotency layer, or still claimed by a killed process: try again.
        if (res.status >= 500 || code === 'IDEMPOTENCY_CONFLICT') {
          await sleep(300 + attempt * 300);
          continue;
        }
        return { status: res.status, body: json, sentAt, ackAt: Date.now() };
      } catch {
        // refused, reset or timed out: the process is down or died under it
        await sleep(200 + attempt * 200);
      }
    }
    this.records.unacknowledged++;
    return undefined;
  }

  private note(answer: Answer | undefined, expected: number[]): boolean {
    if (!answer) return false;
    if (expected.includes(answer.status)) return true;
    const key = `${answer.status} ${answer.body?.error?.code ?? ''}`;
    this.records.unexpected[key] = (this.records.unexpected[key] ?? 0) + 1;
    return false;
  }

  private async send(flow: FlowKind, phone = this.nextPhone()): Promise<string | undefined> {
    const answer = await this.request('/v1/otp/send', { phone });
    if (!this.note(answer, [201])) return undefined;
    const otpId = answer!.body.data.otp_id as string;
    this.records.sends.set(otpId, { phone, flow });
    return otpId;
  }

  /** Waits for the OTP's text at the SMSC (a killed process's message waits for its lease). */
  private async code(otpId: string, phone: string): Promise<string | undefined> {
    const deadline = Date.now() + 25_000;
    while (Date.now() < deadline && !this.stopping) {
      const match = this.textsTo(phone)
        .map((t) => t.match(CODE_PATTERN))
        .find(Boolean);
      if (match) {
        this.records.codes.set(otpId, match[1]!);
        return match[1]!;
      }
      await sleep(50);
    }
    return undefined;
  }

  private async verify(otpId: string, code: string, right: boolean): Promise<VerifyRecord | undefined> {
    const answer = await this.request('/v1/otp/verify', { otp_id: otpId, code });
    if (!answer) return undefined;
    const record: VerifyRecord = {
      otpId,
      right,
      sentAt: answer.sentAt,
      ackAt: answer.ackAt,
      status: answer.status,
      outcome: answer.body?.data?.verified === true ? 'verified' : (answer.body?.error?.code ?? '?'),
      attemptsRemaining: answer.body?.error?.attempts_remaining,
    };
    this.records.verifies.push(record);
    return record;
  }

  private async resend(otpId: string): Promise<void> {
    const answer = await this.request('/v1/otp/resend', { otp_id: otpId });
    if (this.note(answer, [200])) this.records.resends.set(otpId, (this.records.resends.get(otpId) ?? 0) + 1);
  }

  private wrong(code: string): string {
    return code
      .split('')
      .map((d, i) => (i === 0 ? String((Number(d) + 1 + Math.floor(this.options.random() * 8)) % 10) : d))
      .join('');
  }

  /** Send, a few wrong guesses (fewer than max_attempts), maybe a resend, then the right code. */
  private async verifyFlow(): Promise<void> {
    const phone = this.nextPhone();
    const otpId = await this.send('verify', phone);
    if (!otpId) return;
    const code = await this.code(otpId, phone);
    if (!code) return;
    const guesses = Math.floor(this.options.random() * 3);
    for (let i = 0; i < guesses; i++) await this.verify(otpId, this.wrong(code), false);
    if (this.options.random() < 0.3) await this.resend(otpId);
    await this.verify(otpId, code, true);
  }

  /** Every attempt used by wrong guesses; the right code afterwards must not verify. */
  private async exhaustFlow(): Promise<void> {
    const phone = this.nextPhone();
    const otpId = await this.send('exhaust', phone);
    if (!otpId) return;
    const code = await this.code(otpId, phone);
    if (!code) return;
    for (let i = 0; i < 3; i++) await this.verify(otpId, this.wrong(code), false);
    await this.verify(otpId, code, true);
  }

  /** The right code twice at once, on (likely) different processes: one verifies. */
  private async doubleFlow(): Promise<void> {
    const phone = this.nextPhone();
    const otpId = await this.send('double', phone);
    if (!otpId) return;
    const code = await this.code(otpId, phone);
    if (!code) return;
    await Promise.all([this.verify(otpId, code, true), this.verify(otpId, code, true)]);
  }

  private async resendFlow(): Promise<void> {
    const otpId = await this.send('resend');
    if (!otpId) return;
    await this.resend(otpId);
    await this.resend(otpId);
  }

  private async smsFlow(): Promise<void> {
    const phone = this.nextPhone();
    const order = `ORD${this.options.phonePrefix}${String(++this.smsCounter).padStart(6, '0')}`;
    const answer = await this.request('/v1/sms/send', {
      phone,
      template_id: this.options.templateId,
      variables: { order_id: order },
    });
    if (!this.note(answer, [201])) return;
    this.records.sms.set(answer!.body.data.message_id, { phone, text: smsText(order) });
  }

  private async unreachableFlow(): Promise<void> {
    const phone = this.nextPhone();
    this.options.unreachable.add(phone.slice(1));
    await this.send('unreachable', phone);
  }
}

export const TEMPLATE_BODY = 'Chaos shop: your order {{order_id}} has shipped.';
export const smsText = (order: string) => `Chaos shop: your order ${order} has shipped.`;
