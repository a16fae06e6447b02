import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in for Twilio's REST API (2010-04-01): Basic auth with
 * the account SID and auth token, `Messages.json` and `Calls.json` with
 * form bodies checked as Twilio checks them, answers in Twilio's JSON
 * shapes, and status callbacks signed with `X-Twilio-Signature`. The
 * signing here is written apart from otpd's, from Twilio's documentation.
 */

/** How a status callback reaches otpd (fetch by default; tests may inject). */
export type CallbackTransport = (
  url: string,
  headers: Record<string, string>,
  body: string,
) => Promise<{ status: number; body: string }>;

export interface TwilioRequest {
  method: string;
  path: string;
  /** The Basic auth credentials matched the account. */
  authorized: boolean;
  contentType: string | undefined;
  form: Record<string, string>;
  /** What the server answered; null while it hangs. */
  status: number | null;
}

export interface TwilioResource {
  kind: 'message' | 'call';
  sid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string | null;
  twiml: string | null;
  statusCallback: string | null;
  statusCallbackEvent: string | null;
  segments: number;
}

interface Failure {
  status: number;
  code: number;
  message: string;
}

export interface CallbackOptions {
  /** `MessageStatus` (sent, delivered, undelivered, failed, read…) or `CallStatus` (completed, no-answer…). */
  status: string;
  errorCode?: string;
  /** `valid` (default), `missing` header, or signed with a `wrong` token. */
  signature?: 'valid' | 'missing' | 'wrong';
  /** Parameters changed after signing, as an attacker on the path would. */
  tamper?: Record<string, string>;
  /** Sends (and signs) to this URL instead of the resource's StatusCallback. */
  url?: string;
}

const E164 = /^\+[1-9]\d{1,14}$/;

/** GSM 03.38 basic alphabet, and the extension table whose characters take two septets. */
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENDED = '^{}\\[~]|€\f';

/** SMS segments, as Twilio counts them for `num_segments`. */
export function countSegments(text: string): number {
  const chars = [...text];
  if (chars.every((c) => GSM_BASIC.includes(c) || GSM_EXTENDED.includes(c))) {
    const septets = chars.reduce((n, c) => n + (GSM_EXTENDED.includes(c) ? 2 : 1), 0);
    return septets <= 160 ? 1 : Math.ceil(septets / 153);
  }
  const units = text.length; // UTF-16 code units
  return units <= 70 ? 1 : Math.ceil(units / 67);
}

/** Twilio's signature, as its docs describe it: HMAC-SHA1(token, url + each sorted key followed by its value), base64. */
export function signTwilio(authToken: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf-8')).digest('base64');
}

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: (XmlNode | string)[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&([^;]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw new Error(`bare & in "${text}"`);
    if (name in ENTITIES) return ENTITIES[name]!;
    const num = /^#(\d+)$/.exec(name) ?? /^#x([0-9a-fA-F]+)$/.exec(name);
    if (num) return String.fromCodePoint(Number.parseInt(num[1]!, name.startsWith('#x') ? 16 : 10));
    throw new Error(`unknown entity &${name};`);
  });
}

/** A strict little XML reader: one root element, balanced tags, quoted attributes, known entities only. */
export function parseXml(text: string): XmlNode {
  const document: XmlNode = { name: '#document', attrs: {}, children: [] };
  const stack = [document];
  let i = 0;
  if (text.startsWith('<?xml')) i = text.indexOf('?>') + 2;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt === -1 ? text.slice(i) : text.slice(i, lt);
    if (chunk) {
      const top = stack[stack.length - 1]!;
      if (top === document) {
        if (chunk.trim()) throw new Error('text outside the root element');
      } else top.children.push(decodeEntities(chunk));
    }
    if (lt === -1) break;
    const gt = text.indexOf('>', lt);
    if (gt === -1) throw new Error('unterminated tag');
    const tag = text.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (!open || open === document || open.name !== tag.slice(1).trim()) {
        throw new Error(`</${tag.slice(1)}> closes nothing open`);
      }
    } else {
      const m = /^([A-Za-z][\w.-]*)((?:\s+[A-Za-z][\w:.-]*\s*=\s*"[^"<]*")*)\s*(\/?)$/.exec(tag);
      if (!m) throw new Error(`malformed tag <${tag}>`);
      const attrs: Record<string, string> = {};
      for (const [, name, value] of m[2]!.matchAll(/([A-Za-z][\w:.-]*)\s*=\s*"([^"]*)"/g)) {
        if (name! in attrs) throw new Error(`duplicate attribute ${name}`);
        attrs[name!] = decodeEntities(value!);
      }
      const node: XmlNode = { name: m[1]!, attrs, children: [] };
      const top = stack[stack.length - 1]!;
      if (top === document && document.children.length > 0) throw new Error('more than one root element');
      top.children.push(node);
      if (!m[3]) stack.push(node);
    }
    i = gt + 1;
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]!.name}> is not closed`);
  const root = document.children[0];
  if (!root || typeof root === 'string') throw new Error('no root element');
  return root;
}

const VERBS = new Set(['Say', 'Pause', 'Play', 'Gather', 'Hangup', 'Redirect', 'Dial', 'Record', 'Reject']);

/** Checks TwiML as Twilio would before placing a call; answers the problem or null. */
function twimlProblem(twiml: string): string | null {
  let root: XmlNode;
  try {
    root = parseXml(twiml);
  } catch (error) {
    return (error as Error).message;
  }
  if (root.name !== 'Response') return 'the root element must be <Response>';
  for (const verb of root.children) {
    if (typeof verb === 'string') {
      if (verb.trim()) return 'text directly inside <Response>';
      continue;
    }
    if (!VERBS.has(verb.name)) return `<${verb.name}> is not a TwiML verb`;
    if (verb.name === 'Pause' && verb.attrs.length !== undefined && !/^\d+$/.test(verb.attrs.length)) {
      return 'Pause length must be an integer';
    }
  }
  return null;
}

const sid = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;
const rfc2822 = (date: Date) => date.toUTCString().replace('GMT', '+0000');

export class TwilioServer {
  readonly requests: TwilioRequest[] = [];
  readonly created: TwilioResource[] = [];
  private readonly failures: Failure[] = [];
  private hangs = 0;
  private drops = 0;
  private readonly held = new Set<ServerResponse>();
  private server!: Server;
  url = '';

  constructor(
    readonly options: {
      accountSid: string;
      authToken: string;
      /** Numbers the account owns; any E.164 or alphanumeric From when absent. */
      numbers?: string[];
      transport?: CallbackTransport;
    },
  ) {}

  static async start(options: TwilioServer['options']): Promise<TwilioServer> {
    const twilio = new TwilioServer(options);
    twilio.server = createServer((req, res) => {
      void twilio.handle(req, res);
    });
    await new Promise<void>((resolve) => twilio.server.listen(0, '127.0.0.1', resolve));
    twilio.url = `http://127.0.0.1:${(twilio.server.address() as AddressInfo).port}`;
    return twilio;
  }

  /** The next `count` authenticated requests get this error answer. */
  failNext(count: number, status: number, code: number, message = 'Injected failure'): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, code, message });
  }

  /** The next `count` valid requests are taken (the resource exists) but never answered. */
  hangNext(count = 1): void {
    this.hangs += count;
  }

  /** The next `count` valid requests are taken (the resource exists), then the connection is cut without an answer. */
  dropNext(count = 1): void {
    this.drops += count;
  }

  /** Requests to one resource kind, in order. */
  requestsTo(resource: 'Messages' | 'Calls'): TwilioRequest[] {
    return this.requests.filter((r) => r.path.endsWith(`/${resource}.json`));
  }

  resource(to: string): TwilioResource | undefined {
    return this.created.findLast((r) => r.to === to || r.to === `whatsapp:${to}`);
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Sends a status callback for a resource to its StatusCallback URL, as
   * Twilio does: form-encoded POST, signed over the URL and parameters.
   */
  async callback(resourceSid: string, options: CallbackOptions): Promise<{ status: number; body: string }> {
    const resource = this.created.find((r) => r.sid === resourceSid);
    if (!resource) throw new Error(`no resource ${resourceSid}`);
    const url = options.url ?? resource.statusCallback;
    if (!url) throw new Error(`${resourceSid} has no StatusCallback`);
    const { accountSid, authToken } = this.options;
    const params: Record<string, string> =
      resource.kind === 'message'
        ? {
            ApiVersion: '2010-04-01',
            AccountSid: accountSid,
            MessageSid: resource.sid,
            SmsSid: resource.sid,
            MessageStatus: options.status,
            SmsStatus: options.status,
            To: resource.to,
            From: resource.from ?? '+15005550006',
            ...(resource.messagingServiceSid ? { MessagingServiceSid: resource.messagingServiceSid } : {}),
            ...(resource.to.startsWith('whatsapp:')
              ? { ChannelPrefix: 'whatsapp', ChannelToAddress: `${resource.to.slice(9, -4)}XXXX` }
              : {}),
            ...(options.errorCode ? { ErrorCode: options.errorCode } : {}),
          }
        : {
            ApiVersion: '2010-04-01',
            AccountSid: accountSid,
            CallSid: resource.sid,
            CallStatus: options.status,
            CallbackSource: 'call-progress-events',
            Called: resource.to,
            Caller: resource.from!,
            To: resource.to,
            From: resource.from!,
            Direction: 'outbound-api',
            SequenceNumber: '0',
            Timestamp: rfc2822(new Date()),
            ...(options.status === 'completed' ? { CallDuration: '14', Duration: '1' } : {}),
            ...(options.errorCode ? { ErrorCode: options.errorCode } : {}),
          };
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'user-agent': 'TwilioProxy/1.1',
      'i-twilio-idempotency-token': randomBytes(16).toString('hex'),
    };
    const signature = options.signature ?? 'valid';
    if (signature !== 'missing') {
      headers['x-twilio-signature'] = signTwilio(
        signature === 'wrong' ? `${authToken}x` : authToken,
        url,
        params,
      );
    }
    const sent = { ...params, ...options.tamper };
    const transport = this.options.transport ?? fetchTransport;
    return transport(url, headers, new URLSearchParams(sent).toString());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const contentType = req.headers['content-type'];
    const form = contentType?.startsWith('application/x-www-form-urlencoded')
      ? Object.fromEntries(new URLSearchParams(raw))
      : {};
    const { accountSid, authToken } = this.options;
    const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
    const record: TwilioRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      authorized: req.headers.authorization === expected,
      contentType,
      form,
      status: null,
    };
    this.requests.push(record);
    const answer = (status: number, body: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, code: number, message: string) =>
      answer(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

    if (!record.authorized) return error(401, 20003, 'Authenticate');
    const match = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/(Messages|Calls)\.json$/.exec(record.path);
    if (!match || req.method !== 'POST') {
      return error(404, 20404, `The requested resource ${record.path} was not found`);
    }
    if (match[1] !== accountSid) return error(403, 20003, 'Authenticate');
    const failure = this.failures.shift();
    if (failure) return error(failure.status, failure.code, failure.message);

    const problem = match[2] === 'Messages' ? this.checkMessage(form) : this.checkCall(form);
    if (problem) return error(problem.status, problem.code, problem.message);

    const now = new Date();
    const kind = match[2] === 'Messages' ? 'message' : 'call';
    const resource: TwilioResource = {
      kind,
      sid: sid(kind === 'message' ? 'SM' : 'CA'),
      to: form.To!,
      from: form.From ?? null,
      messagingServiceSid: form.MessagingServiceSid ?? null,
      body: form.Body ?? null,
      twiml: form.Twiml ?? null,
      statusCallback: form.StatusCallback ?? null,
      statusCallbackEvent: form.StatusCallbackEvent ?? null,
      segments: form.Body ? countSegments(form.Body) : 0,
    };
    this.created.push(resource);
    if (this.drops > 0) {
      this.drops--;
      res.socket?.destroy();
      return;
    }
    if (this.hangs > 0) {
      this.hangs--;
      this.held.add(res);
      return;
    }
    const uri = `/2010-04-01/Accounts/${accountSid}/${match[2]}/${resource.sid}`;
    if (kind === 'message') {
      return answer(201, {
        account_sid: accountSid,
        api_version: '2010-04-01',
        body: resource.body,
        date_created: rfc2822(now),
        date_sent: null,
        date_updated: rfc2822(now),
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from: resource.from,
        messaging_service_sid: resource.messagingServiceSid,
        num_media: '0',
        num_segments: String(resource.segments),
        price: null,
        price_unit: 'USD',
        sid: resource.sid,
        status: resource.from ? 'queued' : 'accepted',
        subresource_uris: { media: `${uri}/Media.json` },
        to: resource.to,
        uri: `${uri}.json`,
      });
    }
    return answer(201, {
      account_sid: accountSid,
      annotation: null,
      answered_by: null,
      api_version: '2010-04-01',
      caller_name: null,
      date_created: null,
      date_updated: null,
      direction: 'outbound-api',
      duration: null,
      end_time: null,
      forwarded_from: null,
      from: resource.from,
      from_formatted: resource.from,
      group_sid: null,
      parent_call_sid: null,
      phone_number_sid: sid('PN'),
      price: null,
      price_unit: 'USD',
      queue_time: '0',
      sid: resource.sid,
      start_time: null,
      status: 'queued',
      subresource_uris: { notifications: `${uri}/Notifications.json`, recordings: `${uri}/Recordings.json` },
      to: resource.to,
      to_formatted: resource.to,
      trunk_sid: null,
      uri: `${uri}.json`,
    });
  }

  private ownsSender(from: string): boolean {
    return !this.options.numbers || this.options.numbers.includes(from);
  }

  private checkMessage(form: Record<string, string>): Failure | null {
    const bad = (code: number, message: string) => ({ status: 400, code, message });
    if (!form.To) return bad(21604, "A 'To' phone number is required.");
    const whatsapp = form.To.startsWith('whatsapp:');
    const to = whatsapp ? form.To.slice('whatsapp:'.length) : form.To;
    if (!E164.test(to)) return bad(21211, `Invalid 'To' Phone Number: ${form.To}`);
    if (!form.From && !form.MessagingServiceSid) return bad(21603, "A 'From' phone number is required.");
    if (form.From) {
      const fromWhatsapp = form.From.startsWith('whatsapp:');
      if (whatsapp !== fromWhatsapp) {
        return bad(63007, 'Twilio could not find a Channel with the specified From address');
      }
      const from = fromWhatsapp ? form.From.slice('whatsapp:'.length) : form.From;
      if (!(E164.test(from) || (!whatsapp && /^[A-Za-z0-9 ]{1,11}$/.test(from))) || !this.ownsSender(from)) {
        return bad(
          21606,
          `The From phone number ${form.From} is not a valid, SMS-capable inbound phone number or short code for your account.`,
        );
      }
    }
    if (form.MessagingServiceSid && !/^MG[0-9a-f]{32}$/.test(form.MessagingServiceSid)) {
      return bad(21701, 'The Messaging Service Sid is invalid.');
    }
    if (!form.Body) return bad(21602, 'Message body is required.');
    if ([...form.Body].length > 1600) {
      return bad(21617, 'The concatenated message body exceeds the 1600 character limit.');
    }
    if (form.StatusCallback !== undefined && !isUrl(form.StatusCallback)) {
      return bad(21609, 'Invalid StatusCallback url');
    }
    return null;
  }

  private checkCall(form: Record<string, string>): Failure | null {
    const bad = (code: number, message: string) => ({ status: 400, code, message });
    if (!form.To) return bad(21201, "No 'To' number is specified");
    if (!E164.test(form.To)) return bad(21217, 'Phone number does not appear to be valid');
    if (!form.From) return bad(21213, 'Caller phone number is required');
    if (!E164.test(form.From) || !this.ownsSender(form.From)) {
      return bad(21210, "The source phone number provided, 'From', is not yet verified for your account.");
    }
    if (!form.Twiml && !form.Url && !form.ApplicationSid) return bad(21205, 'Url parameter is required.');
    if (form.Twiml !== undefined) {
      if (form.Twiml.length > 4000) return bad(21236, 'The Twiml parameter exceeds 4000 characters.');
      const problem = twimlProblem(form.Twiml);
      if (problem) return bad(12100, `Document parse failure: ${problem}`);
    }
    if (form.StatusCallback !== undefined && !isUrl(form.StatusCallback)) {
      return bad(21609, 'Invalid StatusCallback url');
    }
    if (
      form.StatusCallbackEvent !== undefined &&
      !form.StatusCallbackEvent.split(/\s+/).every((e) =>
        ['initiated', 'ringing', 'answered', 'completed'].includes(e),
      )
    ) {
      return bad(21626, 'StatusCallbackEvent is invalid.');
    }
    return null;
  }
}

function isUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

const fetchTransport: CallbackTransport = async (url, headers, body) => {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text() };
};
