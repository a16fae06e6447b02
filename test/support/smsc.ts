import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import smpp from 'smpp';

/**
 * A loopback SMSC built with `smpp.createServer`, behaving like a carrier's:
 * checks bind credentials (ESME_RBINDFAIL otherwise), records every
 * `submit_sm` with its `short_message` exactly as it came over the wire,
 * answers with a message id, and sends delivery receipts (`deliver_sm`,
 * esm_class 0x04) shortly after. Receipts for an account with no bind up
 * are kept and delivered on its next bind, as real SMSCs do. Tests steer it:
 * throttle or refuse the next submits, hold answers, drop the link.
 */

const STATUS = {
  OK: 0x00,
  INVBNDSTS: 0x04,
  BINDFAIL: 0x0d,
  THROTTLED: 0x58,
};

/** One `submit_sm` as the SMSC read it. */
export interface Submit {
  system_id: string;
  sequence_number: number;
  source_addr: string;
  source_addr_ton: number;
  source_addr_npi: number;
  destination_addr: string;
  dest_addr_ton: number;
  dest_addr_npi: number;
  esm_class: number;
  registered_delivery: number;
  data_coding: number;
  /** The short_message octets exactly as received, UDH included. */
  short_message: Buffer;
  udh: Buffer | null;
  /** The octets after the UDH. */
  body: Buffer;
  /** This part's text, decoded per data_coding. */
  text: string;
  concat: { reference: number; total: number; index: number } | null;
  /** The id it was accepted with; null when refused. */
  message_id: string | null;
  /** The command status answered, or null while the answer is held (or was never sent). */
  answered: number | null;
  /** When it arrived (performance.now() ms). */
  at: number;
}

/** A message as the handset would show it: concatenated parts joined in order. */
export interface AssembledMessage {
  destination: string;
  text: string;
  parts: Submit[];
}

export interface SmscOptions {
  /** system_id → password. */
  accounts: Record<string, string>;
  /** The `stat:` of an accepted submit's receipt (DELIVRD when absent); null sends none. */
  receiptStat?: (submit: Submit) => ReceiptStat | null;
  /** Milliseconds between accepting a message and its receipt (20); 0 sends it right behind the answer. */
  receiptDelayMs?: number;
  /** Receipts also carry the receipted_message_id and message_state TLVs. */
  receiptTlvs?: boolean;
  /** The port to listen on; a free one when absent. */
  port?: number;
}

export type ReceiptStat = 'DELIVRD' | 'UNDELIV' | 'EXPIRED' | 'REJECTD' | 'ACCEPTD' | 'ENROUTE';
/** The message_state TLV of each stat. */
const MESSAGE_STATE: Record<ReceiptStat, number> = {
  ENROUTE: 1,
  DELIVRD: 2,
  EXPIRED: 3,
  UNDELIV: 5,
  ACCEPTD: 6,
  REJECTD: 8,
};

interface PendingReceipt {
  system_id: string;
  submit: Submit;
  stat: ReceiptStat;
}

/** The offsets of submit_sm's fields, read by hand: the library decodes short_message. */
function readSubmitSm(raw: Buffer) {
  let offset = 16;
  const cstring = () => {
    const end = raw.indexOf(0, offset);
    const value = raw.toString('latin1', offset, end);
    offset = end + 1;
    return value;
  };
  const int8 = () => raw[offset++]!;
  cstring(); // service_type
  const source_addr_ton = int8();
  const source_addr_npi = int8();
  const source_addr = cstring();
  const dest_addr_ton = int8();
  const dest_addr_npi = int8();
  const destination_addr = cstring();
  const esm_class = int8();
  int8(); // protocol_id
  int8(); // priority_flag
  cstring(); // schedule_delivery_time
  cstring(); // validity_period
  const registered_delivery = int8();
  int8(); // replace_if_present_flag
  const data_coding = int8();
  int8(); // sm_default_msg_id
  const length = int8();
  const short_message = Buffer.from(raw.subarray(offset, offset + length));
  return {
    source_addr,
    source_addr_ton,
    source_addr_npi,
    destination_addr,
    dest_addr_ton,
    dest_addr_npi,
    esm_class,
    registered_delivery,
    data_coding,
    short_message,
  };
}

function stamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}`;
}

export class TestSmsc {
  readonly submits: Submit[] = [];
  readonly bindAttempts: { system_id: string; ok: boolean }[] = [];
  /** Live bound sessions by system_id. */
  private readonly bound = new Map<smpp.Session, string>();
  private readonly pendingReceipts: PendingReceipt[] = [];
  /** Receipts sent and not answered yet, by link. */
  private readonly inFlight = new Map<smpp.Session, Set<PendingReceipt>>();
  private readonly held: { session: smpp.Session; pdu: smpp.PDU; submit: Submit }[] = [];
  private throttleNext = 0;
  private refuseNext: { count: number; status: number } = { count: 0, status: 0 };
  private holding: { receipts: boolean } | null = null;
  private heldReceipts = new Set<Submit>();
  private dropAt = 0;
  private unanswered = new Map<smpp.Session, number>();
  /** The most submits one session had unanswered at once. */
  maxUnanswered = 0;
  /** enquire_link PDUs received, by system_id. */
  readonly enquireLinks = new Map<string, number>();
  /** Receipts also carry the receipted_message_id and message_state TLVs. */
  receiptTlvs: boolean;
  port = 0;

  private constructor(
    private readonly server: smpp.Server,
    private readonly options: SmscOptions,
  ) {
    this.receiptTlvs = options.receiptTlvs ?? false;
  }

  static async start(options: SmscOptions): Promise<TestSmsc> {
    let smsc: TestSmsc | undefined;
    const server = smpp.createServer((session) => smsc!.accept(session));
    smsc = new TestSmsc(server, options);
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
    smsc.port = (server.address() as AddressInfo).port;
    return smsc;
  }

  /** The next `n` submits are answered ESME_RTHROTTLED (not accepted). */
  throttle(n: number): void {
    this.throttleNext = n;
  }

  /** The next `n` submits are refused with `status`. */
  refuse(n: number, status: number): void {
    this.refuseNext = { count: n, status };
  }

  /** Accepts submits but withholds the answers until release(); `receipts` says whether their receipts still come. */
  hold(options: { receipts: boolean }): void {
    this.holding = options;
  }

  /** Sends the withheld answers (on links still up) and, unless told not to, the receipts held with them; stops holding. */
  release(options: { receipts: boolean } = { receipts: true }): void {
    this.holding = null;
    for (const { session, pdu, submit } of this.held.splice(0)) {
      if (this.heldReceipts.delete(submit) && options.receipts)
        this.scheduleReceipt(submit.system_id, submit);
      if (!this.bound.has(session)) continue;
      submit.answered = STATUS.OK;
      this.answer(session, pdu.response({ message_id: submit.message_id }));
    }
  }

  /** The `n`-th next submit is accepted (its receipt comes later), then the link dies before its answer. */
  dropLinkAt(n: number): void {
    this.dropAt = n;
  }

  /** Live binds of an account. */
  binds(system_id: string): number {
    return [...this.bound.values()].filter((id) => id === system_id).length;
  }

  /** Accepted messages, concatenated parts joined (complete ones only). */
  messages(): AssembledMessage[] {
    const accepted = this.submits.filter((s) => s.message_id !== null);
    const result: AssembledMessage[] = [];
    const groups = new Map<string, Submit[]>();
    for (const submit of accepted) {
      if (!submit.concat) {
        result.push({ destination: submit.destination_addr, text: submit.text, parts: [submit] });
        continue;
      }
      const key = `${submit.system_id}/${submit.destination_addr}/${submit.concat.reference}/${submit.concat.total}`;
      groups.set(key, [...(groups.get(key) ?? []), submit]);
    }
    for (const parts of groups.values()) {
      const total = parts[0]!.concat!.total;
      const ordered = [...parts].sort((a, b) => a.concat!.index - b.concat!.index);
      if (ordered.length !== total || ordered.some((p, i) => p.concat!.index !== i + 1)) continue;
      result.push({
        destination: parts[0]!.destination_addr,
        text: ordered.map((p) => p.text).join(''),
        parts: ordered,
      });
    }
    return result;
  }

  /** How many times a text reached a destination (a duplicate shows as 2). */
  count(destination: string, text: string): number {
    return this.messages().filter((m) => m.destination === destination && m.text === text).length;
  }

  /** Sends a mobile-originated message (deliver_sm, esm_class 0) to a bound account; answers the command status of the reply. */
  sendMo(system_id: string, from: string, text: string): Promise<number> {
    const session = [...this.bound].find(([, id]) => id === system_id)?.[0];
    if (!session) return Promise.reject(new Error(`no bind for ${system_id}`));
    const pdu = new smpp.PDU('deliver_sm', {
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: from,
      destination_addr: 'OTPD',
      esm_class: 0,
      data_coding: 0,
      short_message: Buffer.from(text, 'ascii'),
    });
    return new Promise((resolve) => session.send(pdu, (response) => resolve(response.command_status)));
  }

  /** Destroys every link at once, like a network cut. */
  killLinks(): void {
    for (const session of this.server.sessions) session.destroy();
  }

  async close(): Promise<void> {
    this.killLinks();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(session: smpp.Session): void {
    // The raw PDUs, in the order the library reads them: a 4-octet length, then the rest.
    session.socket.setNoDelay(true);
    const raw: Buffer[] = [];
    let length: Buffer | null = null;
    session.socket.on('data', (chunk: Buffer) => {
      if (length === null && chunk.length === 4) length = chunk;
      else {
        raw.push(Buffer.concat([length!, chunk]));
        length = null;
      }
    });
    session.on('pdu', (pdu: smpp.PDU) => {
      const bytes = raw.shift();
      if (!bytes || bytes.readUInt32BE(12) !== pdu.sequence_number)
        throw new Error('SMSC lost track of raw PDUs');
      if (pdu.command === 'submit_sm') this.onSubmit(session, pdu, bytes);
    });
    session.on('error', () => session.destroy());
    session.on('close', () => this.onClose(session));
    session.on('bind_transceiver', (pdu: smpp.PDU) => {
      const ok =
        pdu.system_id !== undefined &&
        this.options.accounts[pdu.system_id] !== undefined &&
        this.options.accounts[pdu.system_id] === pdu.password;
      this.bindAttempts.push({ system_id: pdu.system_id ?? '', ok });
      if (!ok) {
        session.send(pdu.response({ command_status: STATUS.BINDFAIL }));
        return;
      }
      session.send(pdu.response({ system_id: 'TESTSMSC' }));
      this.bound.set(session, pdu.system_id!);
      this.flushReceipts();
    });
    session.on('enquire_link', (pdu: smpp.PDU) => {
      const system_id = this.bound.get(session) ?? '';
      this.enquireLinks.set(system_id, (this.enquireLinks.get(system_id) ?? 0) + 1);
      session.send(pdu.response());
    });
    session.on('unbind', (pdu: smpp.PDU) => {
      this.bound.delete(session);
      session.send(pdu.response());
      session.close();
    });
  }

  private onClose(session: smpp.Session): void {
    this.bound.delete(session);
    this.unanswered.delete(session);
    for (const receipt of this.inFlight.get(session) ?? []) this.requeue(receipt);
    this.inFlight.delete(session);
  }

  private answer(session: smpp.Session, response: smpp.PDU): void {
    this.unanswered.set(session, (this.unanswered.get(session) ?? 1) - 1);
    session.send(response);
  }

  private onSubmit(session: smpp.Session, pdu: smpp.PDU, raw: Buffer): void {
    const system_id = this.bound.get(session);
    if (system_id === undefined) {
      session.send(pdu.response({ command_status: STATUS.INVBNDSTS }));
      return;
    }
    const fields = readSubmitSm(raw);
    const udhi = (fields.esm_class & 0x40) !== 0;
    const udh = udhi ? fields.short_message.subarray(0, fields.short_message[0]! + 1) : null;
    const body = udh ? fields.short_message.subarray(udh.length) : fields.short_message;
    let concat: Submit['concat'] = null;
    if (udh && udh[1] === 0x00 && udh[2] === 0x03)
      concat = { reference: udh[3]!, total: udh[4]!, index: udh[5]! };
    // UCS-2 by hand; GSM-7 through the library's own GSM 03.38 table.
    const decoded = pdu.short_message;
    const text =
      fields.data_coding === 8
        ? Buffer.from(body).swap16().toString('utf16le')
        : String(decoded && !Buffer.isBuffer(decoded) ? decoded.message : '');
    const submit: Submit = {
      system_id,
      sequence_number: pdu.sequence_number,
      ...fields,
      udh: udh ? Buffer.from(udh) : null,
      body: Buffer.from(body),
      text,
      concat,
      message_id: null,
      answered: null,
      at: performance.now(),
    };
    this.submits.push(submit);
    const open = (this.unanswered.get(session) ?? 0) + 1;
    this.unanswered.set(session, open);
    this.maxUnanswered = Math.max(this.maxUnanswered, open);

    if (this.throttleNext > 0) {
      this.throttleNext--;
      submit.answered = STATUS.THROTTLED;
      this.answer(session, pdu.response({ command_status: STATUS.THROTTLED }));
      return;
    }
    if (this.refuseNext.count > 0) {
      this.refuseNext.count--;
      submit.answered = this.refuseNext.status;
      this.answer(session, pdu.response({ command_status: this.refuseNext.status }));
      return;
    }
    submit.message_id = randomBytes(5).toString('hex');
    if (this.dropAt > 0 && --this.dropAt === 0) {
      this.bound.delete(session);
      this.scheduleReceipt(system_id, submit);
      session.destroy();
      return;
    }
    if (this.holding) {
      this.held.push({ session, pdu, submit });
      if (this.holding.receipts) this.scheduleReceipt(system_id, submit);
      else this.heldReceipts.add(submit);
      return;
    }
    submit.answered = STATUS.OK;
    this.answer(session, pdu.response({ message_id: submit.message_id }));
    this.scheduleReceipt(system_id, submit);
  }

  private scheduleReceipt(system_id: string, submit: Submit): void {
    const stat = this.options.receiptStat ? this.options.receiptStat(submit) : 'DELIVRD';
    if (stat === null) return;
    const queue = () => {
      this.pendingReceipts.push({ system_id, submit, stat });
      this.flushReceipts();
    };
    // 0: right behind the answer, as a fast SMSC's rejection would come.
    if (this.options.receiptDelayMs === 0) queueMicrotask(queue);
    else setTimeout(queue, this.options.receiptDelayMs ?? 20);
  }

  /** Sends every kept receipt whose account has a bind up; the others wait for one. */
  private flushReceipts(): void {
    const waiting = this.pendingReceipts.splice(0);
    for (const receipt of waiting) {
      const session = [...this.bound].find(([, id]) => id === receipt.system_id)?.[0];
      if (!session) {
        this.pendingReceipts.push(receipt);
        continue;
      }
      this.sendReceipt(session, receipt);
    }
  }

  private sendReceipt(session: smpp.Session, receipt: PendingReceipt): void {
    const { submit } = receipt;
    const stat = receipt.stat;
    const delivered = stat === 'DELIVRD';
    const now = stamp(new Date());
    const text =
      `id:${submit.message_id} sub:001 dlvrd:${delivered ? '001' : '000'} submit date:${now} done date:${now} ` +
      `stat:${stat} err:${delivered || stat === 'ENROUTE' || stat === 'ACCEPTD' ? '000' : '001'} text:${submit.text.slice(0, 12)}`;
    const pdu = new smpp.PDU('deliver_sm', {
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: submit.destination_addr,
      dest_addr_ton: submit.source_addr_ton,
      dest_addr_npi: submit.source_addr_npi,
      destination_addr: submit.source_addr,
      esm_class: 0x04,
      data_coding: 0,
      short_message: Buffer.from(text, 'latin1'),
      ...(this.receiptTlvs
        ? { receipted_message_id: submit.message_id, message_state: MESSAGE_STATE[stat] }
        : {}),
    });
    const sent = session.send(pdu, (response) => {
      this.inFlight.get(session)?.delete(receipt);
      if (response.command_status !== STATUS.OK) this.requeue(receipt);
    });
    if (sent) this.inFlight.set(session, (this.inFlight.get(session) ?? new Set()).add(receipt));
    else this.requeue(receipt);
  }

  /** A receipt the client did not take: sent again a little later, like an SMSC's retry. */
  private requeue(receipt: PendingReceipt): void {
    this.pendingReceipts.push(receipt);
    setTimeout(() => this.flushReceipts(), 100);
  }
}
