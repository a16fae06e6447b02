import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Static, Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import smpp from 'smpp';
import { commonSettings } from '../config.js';
import {
  type OutboundMessage,
  type Provider,
  type ProviderDeps,
  ProviderError,
  type ProviderResult,
  type Receipt,
} from '../provider.js';
import type { ProviderType } from '../registry.js';

/**
 * SMPP 3.4 to a carrier's SMSC: transceiver binds kept alive with
 * `enquire_link` and rebound with backoff, `submit_sm` in GSM-7 or UCS-2
 * (concatenated with a UDH when long), a window of outstanding PDUs and a
 * messages-per-second limit per bind, and delivery receipts (`deliver_sm`)
 * handed to the receipt sink. Session timing runs on real time, never on the
 * injected clock.
 */

const Settings = Type.Object(
  {
    ...commonSettings,
    /** The SMSC's address. */
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 2775 }),
    /** The account the carrier gave: `system_id` and `password` of `bind_transceiver`. */
    system_id: Type.String({ minLength: 1 }),
    password: Type.String(),
    system_type: Type.Optional(Type.String()),
    /** The sender: a number (`+15550100`, short code) or an alphanumeric name of up to 11 characters. */
    source_addr: Type.String({ minLength: 1, maxLength: 20 }),
    /** TON and NPI of `source_addr`; guessed from its shape when absent (alphanumeric → 5/0). */
    source_ton: Type.Optional(Type.Integer({ minimum: 0, maximum: 6 })),
    source_npi: Type.Optional(Type.Integer({ minimum: 0, maximum: 18 })),
    /** Whether a message's own `sender_id` replaces `source_addr`. */
    allow_sender_id: Type.Boolean({ default: false }),
    /** Parallel binds to the SMSC; messages go to the least busy one. */
    binds: Type.Integer({ minimum: 1, maximum: 32, default: 1 }),
    /** PDUs a bind may have outstanding (sent, not answered). */
    window: Type.Integer({ minimum: 1, maximum: 1024, default: 10 }),
    /** Seconds between `enquire_link` keep-alives. */
    enquire_link: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 30 }),
    /** The longest wait between reconnect attempts, in seconds (the backoff starts at 0.5 s). */
    reconnect_max: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 60 }),
  },
  { additionalProperties: false },
);
type Settings = Static<typeof Settings>;

// --- Text: GSM 03.38 when every character has a code there, else UCS-2 ---

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const ESCAPE = 0x1b;
/** The extension table: each takes two septets, escape first. */
const GSM_EXTENSION: Record<string, number> = {
  '\f': 0x0a,
  '^': 0x14,
  '{': 0x28,
  '}': 0x29,
  '\\': 0x2f,
  '[': 0x3c,
  '~': 0x3d,
  ']': 0x3e,
  '|': 0x40,
  '€': 0x65,
};
const GSM_SEPTETS = new Map<string, Buffer>();
for (let i = 0; i < GSM_BASIC.length; i++) {
  if (i !== ESCAPE) GSM_SEPTETS.set(GSM_BASIC[i]!, Buffer.of(i));
}
for (const [char, code] of Object.entries(GSM_EXTENSION)) GSM_SEPTETS.set(char, Buffer.of(ESCAPE, code));

const DATA_CODING_GSM = 0;
const DATA_CODING_UCS2 = 8;
const ESM_CLASS_UDHI = 0x40;
/** Octets of one part: unpacked septets for GSM-7 (the SMSC packs them), UTF-16BE for UCS-2. */
const LIMITS = {
  [DATA_CODING_GSM]: { single: 160, part: 153 },
  [DATA_CODING_UCS2]: { single: 140, part: 134 },
};
const MAX_PARTS = 255;

export interface EncodedText {
  dataCoding: typeof DATA_CODING_GSM | typeof DATA_CODING_UCS2;
  /** The short_message of each part, without the UDH. */
  parts: Buffer[];
}

/**
 * Encodes a text for `submit_sm`: GSM-7 when it fits the GSM 03.38 alphabet
 * (extension characters take two septets), else UCS-2. Long texts are split
 * into parts of 153 septets or 67 UCS-2 characters, never inside an escape
 * sequence or a surrogate pair.
 */
export function encodeText(text: string): EncodedText {
  const chars = [...text];
  const gsm = chars.map((c) => GSM_SEPTETS.get(c));
  if (gsm.every((c) => c !== undefined)) {
    return { dataCoding: DATA_CODING_GSM, parts: split(gsm as Buffer[], LIMITS[DATA_CODING_GSM]) };
  }
  const ucs2 = chars.map((c) => Buffer.from(c, 'utf16le').swap16());
  return { dataCoding: DATA_CODING_UCS2, parts: split(ucs2, LIMITS[DATA_CODING_UCS2]) };
}

function split(chars: Buffer[], limit: { single: number; part: number }): Buffer[] {
  const whole = Buffer.concat(chars);
  if (whole.length <= limit.single) return [whole];
  const parts: Buffer[] = [];
  let current: Buffer[] = [];
  let size = 0;
  for (const char of chars) {
    if (size + char.length > limit.part) {
      parts.push(Buffer.concat(current));
      current = [];
      size = 0;
    }
    current.push(char);
    size += char.length;
  }
  parts.push(Buffer.concat(current));
  return parts;
}

/** The 6-octet concatenation header: 8-bit reference, part count, part number. */
function concatenationHeader(reference: number, total: number, index: number): Buffer {
  return Buffer.of(0x05, 0x00, 0x03, reference, total, index);
}

// --- Command status ---

const STATUS = {
  OK: 0x00,
  INVBNDSTS: 0x04,
  SYSERR: 0x08,
  MSGQFUL: 0x14,
  THROTTLED: 0x58,
  X_T_APPN: 0x64,
};
const STATUS_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(smpp.errors)) {
  if (!STATUS_NAMES.has(value)) STATUS_NAMES.set(value, name);
}
const statusName = (status: number) =>
  STATUS_NAMES.get(status) ?? `0x${status.toString(16).padStart(8, '0')}`;

/** Answers that mean "not now": the SMSC did not take the message, and may later. */
const TRANSIENT = new Set([STATUS.THROTTLED, STATUS.MSGQFUL, STATUS.SYSERR, STATUS.INVBNDSTS]);
/** Answers that also ask this bind to slow down for a moment. */
const THROTTLING = new Set([STATUS.THROTTLED, STATUS.MSGQFUL]);
const THROTTLE_PAUSE_MS = 1000;

// --- Delivery receipts ---

const RECEIPT_STATES: Record<string, Receipt['status']> = {
  DELIVRD: 'delivered',
  UNDELIV: 'failed',
  EXPIRED: 'failed',
  REJECTD: 'failed',
  DELETED: 'failed',
  UNKNOWN: 'failed',
  SKIPPED: 'failed',
  ACCEPTD: 'sent',
  ENROUTE: 'sent',
  SCHEDULED: 'sent',
};
/** The `message_state` TLV's values, as the receipt text names them. */
const MESSAGE_STATES = [
  'SCHEDULED',
  'ENROUTE',
  'DELIVRD',
  'EXPIRED',
  'DELETED',
  'UNDELIV',
  'ACCEPTD',
  'UNKNOWN',
  'REJECTD',
  'SKIPPED',
];
const ESM_TYPE_MASK = 0x3c;
const ESM_DELIVERY_RECEIPT = 0x04;
const ESM_INTERMEDIATE_NOTIFICATION = 0x20;

export interface ParsedReceipt {
  /** The SMSC's message id, as it wrote it (hex or decimal: compared as given). */
  id: string;
  stat: string;
  status: Receipt['status'];
  error: string | null;
}

function textOf(field: smpp.PDU['short_message']): string {
  if (!field) return '';
  const message = Buffer.isBuffer(field) ? field : field.message;
  return Buffer.isBuffer(message) ? message.toString('latin1') : message;
}

/**
 * Reads a delivery receipt: the `receipted_message_id` and `message_state`
 * TLVs when present, else the text `id:… sub:… dlvrd:… submit date:… done
 * date:… stat:… err:… text:…`. Null when it names no id or state.
 */
export function parseReceipt(pdu: smpp.PDU): ParsedReceipt | null {
  // What follows `text:` is the message's own start: never parsed.
  const head = (textOf(pdu.short_message) || textOf(pdu.message_payload)).split(/\btext:/i)[0]!;
  const id = pdu.receipted_message_id?.trim() || /\bid:(\S+)/i.exec(head)?.[1];
  const stat =
    (typeof pdu.message_state === 'number' ? MESSAGE_STATES[pdu.message_state] : undefined) ??
    /\bstat:([A-Za-z]+)/i.exec(head)?.[1]?.toUpperCase();
  const status = stat ? RECEIPT_STATES[stat] : undefined;
  if (!id || !stat || !status) return null;
  const err = /\berr:(\w+)/i.exec(head)?.[1];
  const error = status === 'failed' ? (err && !/^0+$/.test(err) ? `${stat} err:${err}` : stat) : null;
  return { id, stat, status, error };
}

/** The recipient a receipt names (its source address), as E.164. */
function phoneOf(address: string | undefined): string | null {
  return address && /^\+?[0-9]{6,15}$/.test(address) ? `+${address.replace(/^\+/, '')}` : null;
}

// --- One bind ---

interface BindOptions {
  settings: Settings;
  index: number;
  timeoutMs: number;
  log: Logger;
  onDeliver(pdu: smpp.PDU, answer: (response: smpp.PDU) => void): void;
}

interface SlotWaiter {
  resolve(): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

/**
 * One transceiver bind: connects, binds, keeps the link alive and rebinds
 * with exponential backoff when it drops or the SMSC refuses it. Senders take
 * a slot (`acquire`) that respects the window and the messages per second,
 * then `submit` one PDU in it; a token taken ahead (`reserveToken`) pays
 * for a later slot.
 */
class Bind {
  state: 'down' | 'connecting' | 'bound' = 'down';
  /** Why the bind is not up, for health(). */
  problem = 'not connected yet';
  private session: smpp.Session | undefined;
  private stopped = false;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private readonly outstanding = new Map<number, (answer: Error) => void>();
  /** Senders waiting for a slot in the window (`acquire`, just before a PDU is written): served first. */
  private readonly slotQueue: SlotWaiter[] = [];
  /** Senders waiting for a token only (`reserveToken`, before the worker marks the message). */
  private readonly tokenQueue: (() => void)[] = [];
  /** Slots handed out and not yet given back: PDUs outstanding, or about to be written. */
  private taken = 0;
  private readonly rate: number | undefined;
  private readonly burst: number;
  private tokens: number;
  /** Tokens taken by `reserveToken` and not yet spent on a slot. */
  private prepaid = 0;
  private refilledAt = performance.now();
  private pausedUntil = 0;
  private corked = false;
  private attempted: () => void = () => {};
  /** Settles once the first connect-and-bind attempt has an outcome. */
  readonly firstAttempt = new Promise<void>((resolve) => {
    this.attempted = resolve;
  });

  constructor(private readonly options: BindOptions) {
    this.rate = options.settings.throughput;
    // A tenth of a second's worth at once: SMSCs count per second, and some per fraction.
    this.burst = this.rate ? Math.max(1, this.rate / 10) : 0;
    this.tokens = this.burst;
  }

  /** How busy the bind is, to pick the least busy one. */
  get load(): number {
    return this.taken + this.slotQueue.length + this.tokenQueue.length + this.prepaid;
  }

  /** Whether a token was taken ahead for the next message. */
  get hasPrepaid(): boolean {
    return this.prepaid > 0;
  }

  open(): void {
    if (this.stopped) return;
    const { settings, timeoutMs, log } = this.options;
    this.state = 'connecting';
    const session = smpp.connect({ host: settings.host, port: settings.port });
    this.session = session;
    session.socket.setNoDelay(true);
    const giveUp = setTimeout(() => {
      this.problem = 'no connection or bind answer in time';
      session.destroy();
    }, timeoutMs);
    session.on('connect', () => {
      const bind = new smpp.PDU('bind_transceiver', {
        system_id: settings.system_id,
        password: settings.password,
        system_type: settings.system_type ?? '',
        interface_version: 0x34,
      });
      session.send(bind, (answer) => {
        clearTimeout(giveUp);
        if (answer.command_status !== STATUS.OK) {
          this.problem = `the SMSC refused the bind (${statusName(answer.command_status)})`;
          session.destroy();
          return;
        }
        this.state = 'bound';
        this.problem = '';
        this.failures = 0;
        log.info({ bind: this.options.index }, 'bound to the SMSC');
        this.keepAlive(session);
        this.attempted();
        this.pump();
      });
    });
    session.on('error', (error: NodeJS.ErrnoException) => {
      this.problem = `link error (${error.code ?? error.message})`;
      // Also a PDU the library cannot read: it stops reading, so the link must go.
      session.destroy();
    });
    session.on('close', () => {
      clearTimeout(giveUp);
      this.closed(session);
    });
    session.on('deliver_sm', (pdu: smpp.PDU) => {
      this.options.onDeliver(pdu, (response) => session.send(response));
    });
    session.on('enquire_link', (pdu: smpp.PDU) => session.send(pdu.response()));
    session.on('unbind', (pdu: smpp.PDU) => {
      this.problem = 'the SMSC unbound';
      session.send(pdu.response());
      session.close();
    });
    session.on('unknown', (pdu: smpp.PDU) => session.send(pdu.response()));
  }

  private keepAlive(session: smpp.Session): void {
    const { settings, timeoutMs, log } = this.options;
    this.keepAliveTimer = setInterval(() => {
      if (session !== this.session) return;
      const dead = setTimeout(() => {
        if (session !== this.session) return;
        this.problem = 'no answer to enquire_link';
        log.warn({ bind: this.options.index }, 'the SMSC stopped answering; reconnecting');
        session.destroy();
      }, timeoutMs);
      dead.unref();
      session.send(new smpp.PDU('enquire_link'), () => clearTimeout(dead));
    }, settings.enquire_link * 1000);
    this.keepAliveTimer.unref();
  }

  private closed(session: smpp.Session): void {
    if (session !== this.session) return;
    const { log, index } = this.options;
    this.session = undefined;
    clearInterval(this.keepAliveTimer);
    if (!this.stopped && this.state === 'bound') {
      log.warn({ bind: index, problem: this.problem || 'link closed' }, 'SMSC link lost');
    } else if (!this.stopped && this.failures === 0) {
      log.warn({ bind: index, problem: this.problem }, 'cannot bind to the SMSC; retrying with backoff');
    }
    this.state = 'down';
    if (!this.problem) this.problem = 'the SMSC closed the link';
    const lost = new ProviderError('The SMSC link dropped before it answered.', 'unknown', 'LINK_LOST');
    for (const fail of [...this.outstanding.values()]) fail(lost);
    this.dropWaiters();
    this.attempted();
    if (this.stopped) return;
    const delay = Math.min(this.options.settings.reconnect_max * 1000, 500 * 2 ** this.failures);
    this.failures++;
    this.reconnectTimer = setTimeout(() => this.open(), delay * (0.8 + Math.random() * 0.4));
    this.reconnectTimer.unref();
  }

  notBound(): ProviderError {
    return this.stopped
      ? new ProviderError('The SMPP provider is closing.', 'retry', 'CLOSING')
      : new ProviderError(`Not bound to the SMSC: ${this.problem || 'binding'}.`, 'retry', 'NOT_BOUND');
  }

  /**
   * The link is gone: a sender waiting for a slot fails (retry), one waiting
   * for a token goes on, to fail at `send` (the token bought nothing).
   */
  private dropWaiters(): void {
    this.prepaid = 0;
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    for (const waiter of this.slotQueue.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(this.notBound());
    }
    for (const resolve of this.tokenQueue.splice(0)) resolve();
  }

  /** Waits for a token of throughput (and the end of a pause), to spend on the next `acquire`. Never fails. */
  reserveToken(): Promise<void> {
    if (this.state !== 'bound') return Promise.resolve();
    if (this.tokenQueue.length === 0 && this.grant('token')) return Promise.resolve();
    return new Promise((resolve) => {
      this.tokenQueue.push(resolve);
      this.schedulePump();
    });
  }

  /** Waits for a slot in the window and a token of throughput, up to `deadline` (performance.now() ms). */
  acquire(deadline: number): Promise<void> {
    if (this.state !== 'bound') return Promise.reject(this.notBound());
    if (this.slotQueue.length === 0 && this.grant('slot')) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: SlotWaiter = { resolve, reject };
      waiter.timer = setTimeout(
        () => {
          this.slotQueue.splice(this.slotQueue.indexOf(waiter), 1);
          reject(new ProviderError('The SMSC link is busy (window or throughput full).', 'retry', 'BUSY'));
        },
        Math.max(0, deadline - performance.now()),
      );
      this.slotQueue.push(waiter);
      this.schedulePump();
    });
  }

  private refill(now: number): void {
    if (!this.rate) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
    this.refilledAt = now;
  }

  /** Grants what a waiter wants, if the bind has it now. */
  private grant(wants: 'slot' | 'token'): boolean {
    if (this.state !== 'bound') return false;
    const now = performance.now();
    if (now < this.pausedUntil) return false;
    if (wants === 'slot') {
      if (this.taken >= this.options.settings.window) return false;
      if (this.prepaid > 0) {
        this.prepaid--;
        this.taken++;
        return true;
      }
    }
    if (this.rate) {
      this.refill(now);
      if (this.tokens < 1) return false;
      this.tokens -= 1;
    }
    if (wants === 'slot') this.taken++;
    else this.prepaid++;
    return true;
  }

  private release(): void {
    this.taken--;
    this.pump();
  }

  /** Serves each queue in order, slots first: those senders have marked their message already. */
  private pump(): void {
    while (this.slotQueue.length > 0 && this.grant('slot')) {
      const waiter = this.slotQueue.shift()!;
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    while (this.tokenQueue.length > 0 && this.grant('token')) this.tokenQueue.shift()!();
    this.schedulePump();
  }

  /** Wakes the queue when a pause ends or a token is due; a freed slot wakes it by itself. */
  private schedulePump(): void {
    if (this.pumpTimer || this.state !== 'bound') return;
    const slotsDue = this.slotQueue.length > 0 && this.taken < this.options.settings.window;
    if (!slotsDue && this.tokenQueue.length === 0) return;
    const now = performance.now();
    this.refill(now);
    const wait =
      now < this.pausedUntil
        ? this.pausedUntil - now
        : this.rate && this.tokens < 1
          ? ((1 - this.tokens) * 1000) / this.rate
          : 0;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.pump();
    }, Math.ceil(wait));
  }

  /**
   * Writes one PDU in a slot taken with `acquire` and answers the SMSC's
   * message id. `answerBy` (performance.now() ms) bounds the wait for the
   * answer; `late` gets an answer that comes after it.
   */
  submit(pdu: smpp.PDU, answerBy: number, late?: (answer: smpp.PDU) => void): Promise<string> {
    const session = this.session;
    if (this.state !== 'bound' || !session) {
      this.release();
      return Promise.reject(this.notBound());
    }
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (answer: smpp.PDU | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.outstanding.delete(pdu.sequence_number);
        this.release();
        if (answer instanceof Error) return reject(answer);
        const status = answer.command_status;
        if (status === STATUS.OK) return resolve(answer.message_id?.trim() ?? '');
        if (THROTTLING.has(status))
          this.pausedUntil = Math.max(this.pausedUntil, performance.now() + THROTTLE_PAUSE_MS);
        // The SMSC does not see us bound: only a new bind helps.
        if (status === STATUS.INVBNDSTS) session.destroy();
        const name = statusName(status);
        reject(
          new ProviderError(
            `The SMSC refused the message (${name}).`,
            TRANSIENT.has(status) ? 'retry' : 'permanent',
            name,
          ),
        );
      };
      this.coalesceWrites(session);
      const written = session.send(pdu, (answer) => {
        if (settled) late?.(answer);
        else settle(answer);
      });
      if (!written) {
        settled = true;
        this.release();
        return reject(this.notBound());
      }
      this.outstanding.set(pdu.sequence_number, settle);
      const seconds = this.options.timeoutMs / 1000;
      timer = setTimeout(
        () =>
          settle(
            new ProviderError(`No submit_sm_resp from the SMSC within ${seconds} s.`, 'unknown', 'TIMEOUT'),
          ),
        Math.max(0, answerBy - performance.now()),
      );
    });
  }

  /** PDUs written in one tick leave in one syscall. */
  private coalesceWrites(session: smpp.Session): void {
    if (this.corked) return;
    this.corked = true;
    session.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      session.socket.uncork();
    });
  }

  /** Stops rebinding; lets outstanding PDUs get their answer (up to `graceMs`), then unbinds. */
  async close(graceMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.dropWaiters();
    const session = this.session;
    if (!session) return;
    const until = performance.now() + graceMs;
    while (this.outstanding.size > 0 && performance.now() < until) await sleep(10);
    if (this.state === 'bound') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        const sent = session.send(new smpp.PDU('unbind'), () => {
          clearTimeout(timer);
          resolve();
        });
        if (!sent) resolve();
      });
    }
    if (this.session !== session) return;
    await new Promise<void>((resolve) => {
      session.once('close', () => resolve());
      session.close();
      setTimeout(() => session.destroy(), 1000).unref();
    });
  }
}

// --- The provider ---

/** Non-first parts of concatenated messages remembered, for their receipts. */
const REMEMBERED_PARTS = 10_000;

class SmppProvider implements Provider {
  readonly type = 'smpp';
  readonly channels = ['sms'] as const;
  /** Messages out at once, the window of every bind: the worker sends this many in parallel. */
  readonly concurrency: number;
  private readonly binds: Bind[];
  private readonly timeoutMs: number;
  /** SMSC id of a non-first part → its first part's id (null: a part of a message that failed). */
  private readonly parts = new Map<string, string | null>();
  private reference = randomInt(256);

  constructor(
    readonly name: string,
    private readonly settings: Settings,
    private readonly deps: ProviderDeps,
  ) {
    this.timeoutMs = (settings.timeout ?? 10) * 1000;
    this.concurrency = settings.window * settings.binds;
    this.binds = Array.from(
      { length: settings.binds },
      (_, index) =>
        new Bind({
          settings,
          index,
          timeoutMs: this.timeoutMs,
          log: deps.log,
          onDeliver: (pdu, answer) => void this.onDeliver(pdu, answer),
        }),
    );
  }

  /** Opens every bind; waits for the first attempts a little, and never throws: binds retry by themselves. */
  async start(): Promise<void> {
    for (const bind of this.binds) bind.open();
    await Promise.race([
      Promise.all(this.binds.map((b) => b.firstAttempt)),
      sleep(Math.min(this.timeoutMs, 5000), undefined, { ref: false }),
    ]);
  }

  async close(): Promise<void> {
    await Promise.all(this.binds.map((b) => b.close(Math.min(this.timeoutMs, 5000))));
  }

  health(): { ok: boolean; detail?: string } {
    const up = this.binds.filter((b) => b.state === 'bound').length;
    if (up > 0) return { ok: true, detail: `${up} of ${this.binds.length} binds up` };
    return { ok: false, detail: this.binds[0]!.problem || 'binding' };
  }

  async send(message: OutboundMessage): Promise<ProviderResult> {
    const started = performance.now();
    if (message.channel !== 'sms') {
      throw new ProviderError(`SMPP sends SMS, not ${message.channel}.`, 'permanent', 'CHANNEL');
    }
    const { dataCoding, parts } = encodeText(message.text);
    if (parts.length > MAX_PARTS) {
      throw new ProviderError(
        `The text needs ${parts.length} parts; SMS allows ${MAX_PARTS}.`,
        'permanent',
        'TOO_LONG',
      );
    }
    const bind = this.pickBind();
    const reference = parts.length > 1 ? this.nextReference() : 0;
    const pdus = parts.map(
      (body, i) =>
        new smpp.PDU('submit_sm', {
          ...this.sourceOf(message),
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: message.phone.replace(/^\+/, ''),
          esm_class: parts.length > 1 ? ESM_CLASS_UDHI : 0,
          registered_delivery: 1,
          data_coding: dataCoding,
          short_message:
            parts.length > 1
              ? Buffer.concat([concatenationHeader(reference, parts.length, i + 1), body])
              : body,
        }),
    );
    const ids = await this.submitParts(bind, pdus, started, message);
    const first = ids[0] || null;
    for (const id of ids.slice(1)) this.remember(id, first);
    return { provider_message_id: first, status: 'sent', segments: parts.length };
  }

  /**
   * Resolves when a bind has a token of throughput for the next message, a
   * throttling pause over; at once when no bind is up (`send` refuses then).
   * The worker marks the message in between: only then it leaves.
   */
  async ready(): Promise<void> {
    await this.leastBusy((bind) => bind.load)?.reserveToken();
  }

  /** A bound bind, the one a token was taken on ahead if any, else the least busy. */
  private pickBind(): Bind {
    const bind = this.leastBusy((b) => (b.hasPrepaid ? 0 : 1_000_000) + b.load);
    if (!bind) throw this.binds[0]!.notBound();
    return bind;
  }

  private leastBusy(rank: (bind: Bind) => number): Bind | undefined {
    let best: Bind | undefined;
    for (const bind of this.binds) {
      if (bind.state === 'bound' && (!best || rank(bind) < rank(best))) best = bind;
    }
    return best;
  }

  private nextReference(): number {
    this.reference = (this.reference + 1) % 256;
    return this.reference;
  }

  private sourceOf(message: OutboundMessage) {
    const { settings } = this;
    const own = settings.allow_sender_id && message.sender_id ? message.sender_id : null;
    const address = own ?? settings.source_addr;
    let ton: number;
    let npi: number;
    if (!/^\+?[0-9]+$/.test(address)) [ton, npi] = [5, 0];
    else if (address.startsWith('+') || address.length > 8) [ton, npi] = [1, 1];
    else [ton, npi] = [0, 1];
    return {
      source_addr: address.replace(/^\+/, ''),
      source_addr_ton: own === null ? (settings.source_ton ?? ton) : ton,
      source_addr_npi: own === null ? (settings.source_npi ?? npi) : npi,
    };
  }

  /**
   * Sends the parts in order over one bind. A message shows only when every
   * part arrives, so a failed part decides the outcome: `unknown` when some
   * part's answer never came, else that part's failure (a retry sends every
   * part again, under a new reference).
   */
  private async submitParts(
    bind: Bind,
    pdus: smpp.PDU[],
    started: number,
    message: OutboundMessage,
  ): Promise<string[]> {
    // Waiting for a slot takes at most half the timeout; the answer gets the
    // rest, and comes before the registry's last-resort timer (timeout + 2 s).
    const slotBy = started + this.timeoutMs / 2;
    const answerLimit = started + this.timeoutMs + 1500;
    // A late answer to a lone part still tells which id the SMSC gave it.
    const late = pdus.length === 1 ? (answer: smpp.PDU) => this.lateAnswer(message, answer) : undefined;
    const answers: Promise<{ id: string } | { error: unknown }>[] = [];
    let failed = false;
    for (const pdu of pdus) {
      if (failed) break;
      try {
        await bind.acquire(slotBy);
      } catch (error) {
        answers.push(Promise.resolve({ error }));
        break;
      }
      const answerBy = Math.min(performance.now() + this.timeoutMs, answerLimit);
      answers.push(
        bind.submit(pdu, answerBy, late).then(
          (id) => ({ id }),
          (error: unknown) => {
            failed = true;
            return { error };
          },
        ),
      );
    }
    const outcomes = await Promise.all(answers);
    const ids = outcomes.flatMap((o) => ('id' in o ? [o.id] : []));
    const errors = outcomes.flatMap((o) => ('error' in o ? [o.error] : []));
    if (errors.length === 0) return ids;
    for (const id of ids) this.remember(id, null);
    throw errors.find((e) => e instanceof ProviderError && e.kind === 'unknown') ?? errors[0];
  }

  private remember(partId: string, firstId: string | null): void {
    if (!partId) return;
    this.parts.set(partId, firstId);
    if (this.parts.size > REMEMBERED_PARTS) this.parts.delete(this.parts.keys().next().value!);
  }

  /** A `submit_sm_resp` after the timeout: the message left after all, with this id. */
  private lateAnswer(message: OutboundMessage, answer: smpp.PDU): void {
    const { log } = this.deps;
    if (answer.command_status !== STATUS.OK || !answer.message_id) {
      log.warn({ message_id: message.id, status: statusName(answer.command_status) }, 'late SMSC refusal');
      return;
    }
    this.deps
      .receipts({
        provider: this.name,
        provider_message_id: answer.message_id.trim(),
        message_id: message.id,
        phone: message.phone,
        status: 'sent',
        at: this.deps.now(),
      })
      .catch((error: unknown) =>
        log.error({ err: error, message_id: message.id }, 'late SMSC answer not recorded'),
      );
  }

  /**
   * Receipts go to the sink, and the SMSC gets its `deliver_sm_resp` once the
   * sink has them: when recording fails, a temporary error makes the SMSC
   * send the receipt again. Other `deliver_sm` (mobile-originated) are
   * answered and ignored.
   */
  private async onDeliver(pdu: smpp.PDU, answer: (response: smpp.PDU) => void): Promise<void> {
    const type = (pdu.esm_class ?? 0) & ESM_TYPE_MASK;
    if (type !== ESM_DELIVERY_RECEIPT && type !== ESM_INTERMEDIATE_NOTIFICATION) {
      answer(pdu.response());
      return;
    }
    const receipt = parseReceipt(pdu);
    if (!receipt) {
      this.deps.log.warn({ esm_class: pdu.esm_class }, 'unreadable delivery receipt ignored');
      answer(pdu.response());
      return;
    }
    // A receipt read in the same chunk as its part's submit_sm_resp comes
    // before `send` has remembered the parts: let it finish first.
    await new Promise((resolve) => setImmediate(resolve));
    let id = receipt.id;
    if (this.parts.has(id)) {
      // A later part of a concatenated message: only its failure is news, reported for the first part.
      const first = this.parts.get(id)!;
      if (first === null || receipt.status !== 'failed') {
        answer(pdu.response());
        return;
      }
      id = first;
    }
    try {
      await this.deps.receipts({
        provider: this.name,
        provider_message_id: id,
        phone: phoneOf(pdu.source_addr),
        status: receipt.status,
        error: receipt.error,
        at: this.deps.now(),
      });
      answer(pdu.response());
    } catch (error) {
      this.deps.log.error(
        { err: error, provider_message_id: id },
        'receipt not recorded; the SMSC will resend it',
      );
      answer(pdu.response({ command_status: STATUS.X_T_APPN }));
    }
  }
}

export const smppProvider: ProviderType<typeof Settings> = {
  schema: Settings,
  throttlesItself: true,
  create(name, settings, deps) {
    return new SmppProvider(name, settings, deps);
  },
};
