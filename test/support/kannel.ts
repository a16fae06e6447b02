import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Loopback HTTP gateways for the http provider's tests: a Kannel smsbox
 * (`/cgi-bin/sendsms`, answering and calling dlr-urls as Kannel does) and a
 * JSON aggregator (`POST /api/v1/sms` with a bearer token). Both check what
 * the real ones check and can be told to fail or hang the next requests.
 */

export interface Answer {
  status: number;
  body: string;
  type?: string;
}

/** A scripted answer for the next request, possibly built from its body; `hang` handles it and never answers. */
type Scripted = Answer | ((body: Buffer) => Answer) | 'hang';

abstract class Loopback {
  url = '';
  private server: Server | undefined;
  private readonly script: Scripted[] = [];
  private readonly hanging = new Set<ServerResponse>();
  /** Every request that reached the gateway, scripted ones included. */
  hits = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.hits++;
        const body = Buffer.concat(chunks);
        const scripted = this.script.shift();
        if (scripted === 'hang') {
          // The gateway takes the message; its answer never comes back.
          this.hanging.add(res);
          this.handle(req, body);
          return;
        }
        const answer = scripted
          ? typeof scripted === 'function'
            ? scripted(body)
            : scripted
          : this.handle(req, body);
        res.writeHead(answer.status, { 'content-type': answer.type ?? 'text/plain' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The next `n` requests get this answer instead of being handled. */
  answerNext(n: number, answer: Answer | ((body: Buffer) => Answer)): void {
    for (let i = 0; i < n; i++) this.script.push(answer);
  }

  /** The next `n` requests are handled and never answered. */
  hangNext(n: number): void {
    for (let i = 0; i < n; i++) this.script.push('hang');
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  protected abstract handle(req: IncomingMessage, body: Buffer): Answer;
}

/** What a callback to otpd answered. */
export interface CallbackAnswer {
  url: string;
  status: number;
  body: string;
}

async function callBack(
  url: string,
  init: { method: 'GET' } | { method: 'POST'; json: unknown },
): Promise<CallbackAnswer> {
  const res = await fetch(url, {
    method: init.method,
    ...(init.method === 'POST'
      ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.json) }
      : {}),
  });
  return { url, status: res.status, body: await res.text() };
}

// GSM 03.38: what a handset shows of a text sent with coding 0 (the rest becomes "?").
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';
const GSM = new Set([...GSM_BASIC, ...GSM_EXTENSION]);

/** Percent-decoding to bytes, as a CGI parser does (`+` is a space). */
function cgiBytes(raw: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '+') bytes.push(0x20);
    else if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes);
}

function cgiVariables(raw: string): Map<string, Buffer> {
  const vars = new Map<string, Buffer>();
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = cgiBytes(eq < 0 ? pair : pair.slice(0, eq)).toString('latin1');
    if (!vars.has(name)) vars.set(name, cgiBytes(eq < 0 ? '' : pair.slice(eq + 1)));
  }
  return vars;
}

export interface SendsmsRequest {
  method: string;
  username: string;
  to: string;
  from: string | null;
  /** The text as Kannel reads it: the bytes of `text` in `charset` (ISO-8859-1 without one; UTF-16BE for coding 2). */
  text: string;
  charset: string | null;
  coding: number;
  dlrMask: number;
  dlrUrl: string | null;
  /** What the handset shows: coding 0 turns characters outside GSM 03.38 into "?". */
  handset: string;
  /** The id Kannel gives it (its dlr-url's `%F`). */
  id: string;
  /** The dlr types already reported. */
  reported: number[];
}

/**
 * Kannel's smsbox `sendsms` interface: GET (or form POST) with username,
 * password, to, from, text, charset, coding, dlr-mask and dlr-url. Answers
 * 202 "0: Accepted for delivery"; `report()` then calls each dlr-url with
 * `%d` replaced by the dlr type, as Kannel does: 8 (submitted to the SMSC),
 * then 1 (delivered), or 16 (SMSC reject) for numbers starting with one of
 * `rejectPrefixes`.
 */
export class LoopbackKannel extends Loopback {
  readonly requests: SendsmsRequest[] = [];
  readonly callbacks: CallbackAnswer[] = [];
  private sequence = 0;

  constructor(private readonly options: { username: string; password: string; rejectPrefixes?: string[] }) {
    super();
  }

  protected handle(req: IncomingMessage, body: Buffer): Answer {
    const [path, query = ''] = (req.url ?? '').split('?', 2) as [string, string?];
    const answer = (status: number, text: string): Answer => ({ status, body: text, type: 'text/html' });
    if (path !== '/cgi-bin/sendsms') return answer(404, 'Unknown request');
    const vars = cgiVariables(query);
    const type = req.headers['content-type'] ?? '';
    if (req.method === 'POST' && type.startsWith('application/x-www-form-urlencoded')) {
      for (const [k, v] of cgiVariables(body.toString('latin1'))) if (!vars.has(k)) vars.set(k, v);
    }
    const get = (name: string) => vars.get(name)?.toString('utf8');
    if (get('username') !== this.options.username || get('password') !== this.options.password) {
      return answer(403, 'Authorization failed for sendsms');
    }
    const to = get('to');
    if (!to) return answer(400, 'Empty receiver number not allowed, rejected');
    if (!/^\d{6,15}$/.test(to))
      return answer(400, 'Number(s) has/have been denied by white- and/or black-lists.');
    const raw = vars.get('text');
    if (!raw || raw.length === 0) return answer(400, 'Empty text not allowed, rejected.');
    const charset = get('charset') ?? null;
    const coding = Number(get('coding') ?? 0);
    const text =
      charset === null
        ? coding === 2
          ? Buffer.from(raw).swap16().toString('utf16le')
          : raw.toString('latin1')
        : new TextDecoder(charset).decode(raw);
    this.requests.push({
      method: req.method ?? 'GET',
      username: get('username')!,
      to,
      from: get('from') ?? null,
      text,
      charset,
      coding,
      dlrMask: Number(get('dlr-mask') ?? 0),
      dlrUrl: get('dlr-url') ?? null,
      handset: coding === 2 ? text : [...text].map((c) => (GSM.has(c) ? c : '?')).join(''),
      id: `kannel-${++this.sequence}`,
      reported: [],
    });
    return answer(202, '0: Accepted for delivery');
  }

  /** Calls a request's dlr-url for one dlr type, if its dlr-mask asks for it, filled in as Kannel does. */
  async receipt(request: SendsmsRequest, type: number): Promise<CallbackAnswer | undefined> {
    if (!request.dlrUrl || (request.dlrMask & type) === 0) return undefined;
    request.reported.push(type);
    const reply = type === 16 ? 'NACK/0x0000000b/Invalid Destination Address' : 'ACK/';
    const url = request.dlrUrl
      .replaceAll('%d', String(type))
      .replaceAll('%p', encodeURIComponent(request.to))
      .replaceAll('%P', encodeURIComponent(request.from ?? ''))
      .replaceAll('%A', encodeURIComponent(reply))
      .replaceAll('%F', encodeURIComponent(request.id));
    const answer = await callBack(url, { method: 'GET' });
    this.callbacks.push(answer);
    return answer;
  }

  /** Reports every request not reported yet: 8, then 1 (or 16 for a rejected number). */
  async report(): Promise<void> {
    for (const request of this.requests) {
      if (request.reported.length > 0) continue;
      const rejected = this.options.rejectPrefixes?.some((p) => request.to.startsWith(p)) ?? false;
      await this.receipt(request, 8);
      await this.receipt(request, rejected ? 16 : 1);
    }
  }
}

export interface AggregatorMessage {
  id: string;
  to: string;
  message: string;
  sender: string | null;
  callback_url: string | null;
}

/**
 * A local SMS aggregator's JSON API: `POST /api/v1/sms {to, message, sender,
 * callback_url?}` with `Authorization: Bearer <token>`, answering
 * `{"ok":true,"data":{"id":"agg-123"}}` or `{"ok":false,"error":"…"}` (400,
 * 401, 429). Status reports are POSTed as JSON `{id, status, error?}` to
 * the message's callback_url.
 */
export class LoopbackAggregator extends Loopback {
  readonly messages: AggregatorMessage[] = [];
  private sequence = 122;

  constructor(private readonly token: string) {
    super();
  }

  protected handle(req: IncomingMessage, body: Buffer): Answer {
    const answer = (status: number, json: unknown): Answer => ({
      status,
      body: JSON.stringify(json),
      type: 'application/json',
    });
    if (req.method !== 'POST' || req.url !== '/api/v1/sms')
      return answer(404, { ok: false, error: 'not found' });
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return answer(401, { ok: false, error: 'invalid or missing API token' });
    }
    if (!req.headers['content-type']?.startsWith('application/json')) {
      return answer(400, { ok: false, error: 'content-type must be application/json' });
    }
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      return answer(400, { ok: false, error: 'body is not JSON' });
    }
    if (typeof input.to !== 'string' || !/^\+[1-9]\d{6,14}$/.test(input.to)) {
      return answer(400, { ok: false, error: "'to' must be an E.164 number" });
    }
    if (typeof input.message !== 'string' || input.message.length === 0) {
      return answer(400, { ok: false, error: "'message' is required" });
    }
    const id = `agg-${++this.sequence}`;
    this.messages.push({
      id,
      to: input.to,
      message: input.message,
      sender: typeof input.sender === 'string' ? input.sender : null,
      callback_url: typeof input.callback_url === 'string' ? input.callback_url : null,
    });
    return answer(200, { ok: true, data: { id } });
  }

  /** POSTs a status report for one message to its callback_url. */
  async report(id: string, status: 'sent' | 'delivered' | 'failed', error?: string): Promise<CallbackAnswer> {
    const message = this.messages.find((m) => m.id === id);
    if (!message?.callback_url) throw new Error(`no callback_url for ${id}`);
    return callBack(message.callback_url, {
      method: 'POST',
      json: { id, status, ...(error ? { error } : {}) },
    });
  }
}
