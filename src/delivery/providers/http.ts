import { type Static, Type } from '@sinclair/typebox';
import { ConfigError } from '../../config.js';
import { OtpdError } from '../../core/errors.js';
import { commonSettings } from '../config.js';
import {
  type CallbackRequest,
  type CallbackResponse,
  type OutboundMessage,
  type Provider,
  type ProviderDeps,
  ProviderError,
  type ProviderResult,
  type Receipt,
} from '../provider.js';
import type { ProviderType } from '../registry.js';
import { fetchFailure } from './fetch-failure.js';

/**
 * A generic HTTP gateway: Kannel's `sendsms`, local aggregators, anything
 * that takes a message over HTTP. The request is a template (URL, headers,
 * JSON or form body) filled with the message's placeholders; the answer's
 * status and body say whether the gateway accepted it and under which id.
 * Receipts come back to `/callbacks/<name>` on the URL `{receipt_url}` gave
 * the gateway, which carries our message id and a token only otpd can make.
 */

const Strings = Type.Array(Type.String({ minLength: 1 }), { minItems: 1 });

const Settings = Type.Object(
  {
    ...commonSettings,
    /** The gateway's endpoint; placeholders in it are URL-encoded. */
    url: Type.String({ pattern: '^https?://[^\\s]+$' }),
    method: Type.Optional(Type.Union([Type.Literal('GET'), Type.Literal('POST')], { default: 'POST' })),
    /** Request headers; values may hold placeholders (`Authorization: Bearer …`). */
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** The body template: each string may hold placeholders; nested objects and arrays for JSON. */
    body: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    body_type: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('form')], { default: 'json' })),
    /** `{sender}` when the message has no sender id of its own. */
    sender: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * The gateway's own receipt placeholders, appended to `{receipt_url}`
     * unencoded (Kannel: `{"status": "%d"}` → `&status=%d`).
     */
    receipt_query: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String())),
    /** How an accepted message is told from a refused one. */
    success: Type.Optional(
      Type.Object(
        {
          /** Statuses that mean accepted; any 2xx when absent. */
          status: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), { minItems: 1 })),
          /** A regular expression the answer's body must match (Kannel: `^0: Accepted|^Sent`). */
          body_match: Type.Optional(Type.String({ minLength: 1 })),
          /** A dotted path into the JSON answer that must be truthy (`ok`). */
          json_path: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Where the gateway's id of the message is in its answer; none when absent. */
    message_id: Type.Optional(
      Type.Object(
        {
          json_path: Type.Optional(Type.String({ minLength: 1 })),
          /** Its first group is the id. */
          regex: Type.Optional(Type.String({ minLength: 1 })),
          header: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** How a receipt at `/callbacks/<name>` is read. */
    receipt: Type.Optional(
      Type.Object(
        {
          /** The query, form or JSON field (dotted path) with the status; `status` when absent. */
          status_param: Type.Optional(Type.String({ minLength: 1 })),
          /** The field with the gateway's message id. */
          id_param: Type.Optional(Type.String({ minLength: 1 })),
          /** The field with the gateway's reason for a failure. */
          error_param: Type.Optional(Type.String({ minLength: 1 })),
          delivered: Type.Optional(Strings),
          failed: Type.Optional(Strings),
          sent: Type.Optional(Strings),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
type Settings = Static<typeof Settings>;

/** Kannel's dlr types: 1 delivered, 2 failed, 4 buffered, 8 submitted to the SMSC, 16 SMSC reject. */
const DEFAULT_RECEIPT = {
  status_param: 'status',
  delivered: ['1', 'delivered', 'DELIVRD'],
  failed: ['2', '16', 'failed', 'UNDELIV', 'REJECTD'],
  sent: ['8', '4'],
};

const PLACEHOLDERS = [
  'phone',
  'phone_digits',
  'text',
  'sender',
  'message_id',
  'channel',
  'receipt_url',
  'code',
] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];
type Values = Record<Placeholder, string>;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const EXCERPT_CHARS = 160;

/** Walks a template, checking every string's placeholders; names the key of a bad one. */
function checkTemplate(value: unknown, path: string, nested: boolean, used: Set<string>): void {
  if (typeof value === 'string') {
    for (const [, name] of value.matchAll(PLACEHOLDER)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(name!)) {
        throw new ConfigError(
          `${path}: unknown placeholder {${name}}; use ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}.`,
        );
      }
      used.add(name!);
    }
  } else if (value !== null && typeof value === 'object') {
    if (!nested) throw new ConfigError(`${path}: a form body takes text, numbers and booleans only.`);
    for (const [key, inner] of Object.entries(value)) checkTemplate(inner, `${path}.${key}`, nested, used);
  } else if (value !== null && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new ConfigError(`${path}: must be text, a number, a boolean, null, an object or an array.`);
  }
}

function compileRegex(source: string, path: string, needsGroup: boolean): RegExp {
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch (error) {
    throw new ConfigError(`${path}: not a valid regular expression (${(error as Error).message}).`);
  }
  // An alternation with the empty string always matches, showing how many groups the pattern has.
  if (needsGroup && new RegExp(`${source}|`).exec('')!.length < 2) {
    throw new ConfigError(`${path}: needs a group, as in "id=(\\w+)"; the first group is the id.`);
  }
  return regex;
}

function fill(template: string, values: Values, encode: (s: string) => string = (s) => s): string {
  return template.replace(PLACEHOLDER, (_, name: Placeholder) => encode(values[name]));
}

function fillDeep(template: unknown, values: Values): unknown {
  if (typeof template === 'string') return fill(template, values);
  if (Array.isArray(template)) return template.map((v) => fillDeep(v, values));
  if (template !== null && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fillDeep(v, values)]));
  }
  return template;
}

/** `data.id` in `{"data": {"id": …}}`; arrays by index (`messages.0.id`). */
function atPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

class HttpGateway implements Provider {
  readonly type = 'http';
  readonly channels: Provider['channels'];
  readonly receipts: boolean;
  private readonly method: 'GET' | 'POST';
  private readonly bodyType: 'json' | 'form';
  private readonly timeoutMs: number;
  private readonly bodyMatch: RegExp | undefined;
  private readonly idRegex: RegExp | undefined;
  private readonly receipt: typeof DEFAULT_RECEIPT & { id_param?: string; error_param?: string };
  private readonly receiptQuery: string;
  private readonly needsCode: boolean;
  /** Aborts the requests in flight when the provider closes. */
  private readonly closing = new AbortController();

  constructor(
    readonly name: string,
    private readonly settings: Settings,
    private readonly deps: ProviderDeps,
  ) {
    const key = `providers.${name}`;
    this.channels = settings.channels ?? ['sms'];
    this.method = settings.method ?? 'POST';
    this.bodyType = settings.body_type ?? 'json';
    this.timeoutMs = (settings.timeout ?? 10) * 1000;

    const used = new Set<string>();
    checkTemplate(settings.url, `${key}.url`, false, used);
    for (const [header, value] of Object.entries(settings.headers ?? {})) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) {
        throw new ConfigError(`${key}.headers.${header}: not a valid header name.`);
      }
      checkTemplate(value, `${key}.headers.${header}`, false, used);
    }
    if (settings.body) {
      if (this.method === 'GET') throw new ConfigError(`${key}.body: a GET request has no body; use POST.`);
      for (const [field, value] of Object.entries(settings.body)) {
        checkTemplate(value, `${key}.body.${field}`, this.bodyType === 'json', used);
      }
    }
    this.needsCode = used.has('code');
    // Gateways often report only final states (Kannel's dlr-mask): silence
    // proves nothing unless the operator says so (resend_after_silence).
    this.receipts = false;
    if (used.has('receipt_url') && !deps.callbackUrl) {
      throw new ConfigError(`${key}: {receipt_url} needs public_url, the address gateways reach otpd at.`);
    }
    this.bodyMatch =
      settings.success?.body_match === undefined
        ? undefined
        : compileRegex(settings.success.body_match, `${key}.success.body_match`, false);
    this.idRegex =
      settings.message_id?.regex === undefined
        ? undefined
        : compileRegex(settings.message_id.regex, `${key}.message_id.regex`, true);
    this.receipt = { ...DEFAULT_RECEIPT, ...settings.receipt };
    // The gateway substitutes these itself, so they stay as written.
    this.receiptQuery = Object.entries(settings.receipt_query ?? {})
      .map(([k, v]) => `&${encodeURIComponent(k)}=${v}`)
      .join('');
  }

  async send(message: OutboundMessage): Promise<ProviderResult> {
    if (this.needsCode && !message.code) {
      throw new ProviderError('The request template needs {code} and this message has none.', 'permanent');
    }
    const values = this.values(message);
    const request = this.request(values);
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.closing.signal]);
    let response: Response;
    let text: string;
    try {
      response = await fetch(fill(this.settings.url, values, encodeURIComponent), {
        ...request,
        method: this.method,
        redirect: 'manual',
        signal,
      });
      text = await response.text();
    } catch (error) {
      throw this.transportFailure(error);
    }
    this.deps.log.debug({ message_id: message.id, status: response.status }, 'gateway answered');
    return this.outcome(message, response, text);
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  async handleCallback(request: CallbackRequest): Promise<CallbackResponse> {
    const messageId = first(request.query.message_id);
    const token = first(request.query.token);
    if (!messageId || !token || !this.deps.verify(messageId, token)) throw new OtpdError('INVALID_SIGNATURE');

    const body = this.callbackBody(request);
    const field = (name: string | undefined): string | undefined => {
      if (!name) return undefined;
      const value = first(request.query[name]) ?? atPath(body, name);
      return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
    };
    const reported = field(this.receipt.status_param);
    const status = reported === undefined ? undefined : this.receiptStatus(reported);
    if (!status) {
      // A state the settings do not name (Kannel's 32, intermediate notifications) changes nothing.
      this.deps.log.info(
        { message_id: messageId, status: reported ?? null },
        'receipt with no known status ignored',
      );
      return { status: 200, body: 'OK' };
    }
    const receipt: Receipt = {
      provider: this.name,
      message_id: messageId,
      provider_message_id: field(this.receipt.id_param) ?? null,
      status,
      error: status === 'failed' ? (field(this.receipt.error_param) ?? reported!) : null,
    };
    await this.deps.receipts(receipt);
    return { status: 200, body: 'OK' };
  }

  private values(message: OutboundMessage): Values {
    const receiptUrl = this.deps.callbackUrl
      ? `${this.deps.callbackUrl}?message_id=${encodeURIComponent(message.id)}&token=${encodeURIComponent(this.deps.sign(message.id))}${this.receiptQuery}`
      : '';
    return {
      phone: message.phone,
      phone_digits: message.phone.replace(/^\+/, ''),
      text: message.text,
      sender: message.sender_id ?? this.settings.sender ?? '',
      message_id: message.id,
      channel: message.channel,
      receipt_url: receiptUrl,
      code: message.code ?? '',
    };
  }

  /** Headers and body; a value that cannot be sent (a line break in a header) is refused before anything leaves. */
  private request(values: Values): { headers: Headers; body?: string } {
    const headers = new Headers();
    try {
      for (const [header, value] of Object.entries(this.settings.headers ?? {})) {
        headers.set(header, fill(value, values));
      }
    } catch {
      throw new ProviderError('A header template gave a value that cannot be sent.', 'permanent');
    }
    if (!this.settings.body) return { headers };
    const body = fillDeep(this.settings.body, values) as Record<string, unknown>;
    if (this.bodyType === 'form') {
      if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
      const form = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) form.append(k, v === null ? '' : String(v));
      return { headers, body: form.toString() };
    }
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return { headers, body: JSON.stringify(body) };
  }

  private transportFailure(error: unknown): ProviderError {
    if (this.closing.signal.aborted) {
      return new ProviderError('The provider closed while waiting for the gateway.', 'unknown', 'CLOSED');
    }
    return fetchFailure(error, 'the gateway', this.timeoutMs);
  }

  private outcome(message: OutboundMessage, response: Response, text: string): ProviderResult {
    const status = response.status;
    const accepted = this.settings.success?.status
      ? this.settings.success.status.includes(status)
      : status >= 200 && status < 300;
    const excerpt = this.excerpt(text, message);
    if (!accepted) {
      const kind = status === 429 || status >= 500 ? 'retry' : 'permanent';
      throw new ProviderError(`HTTP ${status}: ${excerpt}`, kind, String(status));
    }
    if (this.bodyMatch && !this.bodyMatch.test(text)) {
      throw new ProviderError(
        `HTTP ${status}, not an accepted answer: ${excerpt}`,
        'permanent',
        String(status),
      );
    }
    const json =
      this.settings.success?.json_path || this.settings.message_id?.json_path ? parseJson(text) : undefined;
    const okPath = this.settings.success?.json_path;
    if (okPath && !atPath(json, okPath)) {
      throw new ProviderError(
        `HTTP ${status}, ${okPath} is not true: ${excerpt}`,
        'permanent',
        String(status),
      );
    }
    const provider_message_id = this.providerId(response, text, json);
    if (provider_message_id === null && this.settings.message_id) {
      this.deps.log.warn({ message_id: message.id }, 'gateway answer has no message id where configured');
    }
    return { provider_message_id, status: 'sent' };
  }

  private providerId(response: Response, text: string, json: unknown): string | null {
    const where = this.settings.message_id;
    if (!where) return null;
    if (where.json_path) {
      const value = atPath(json, where.json_path);
      if (typeof value === 'string' || typeof value === 'number') return String(value);
    }
    if (this.idRegex) {
      const group = this.idRegex.exec(text)?.[1];
      if (group) return group;
    }
    if (where.header) return response.headers.get(where.header) || null;
    return null;
  }

  /** A short, single-line piece of the answer for the message's error, the code blanked out. */
  private excerpt(text: string, message: OutboundMessage): string {
    let clean = text.replace(/\s+/g, ' ').trim();
    if (message.code) clean = clean.replaceAll(message.code, '***');
    if (clean.length > EXCERPT_CHARS) clean = `${clean.slice(0, EXCERPT_CHARS)}…`;
    return clean || '(empty body)';
  }

  private callbackBody(request: CallbackRequest): unknown {
    if (request.body.length === 0) return undefined;
    const type = first(request.headers['content-type'])?.toLowerCase() ?? '';
    const text = request.body.toString('utf8');
    if (type.includes('json')) return parseJson(text);
    if (type.includes('x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
    return undefined;
  }

  private receiptStatus(reported: string): Receipt['status'] | undefined {
    const is = (list: string[]) => list.some((s) => s.toLowerCase() === reported.toLowerCase());
    if (is(this.receipt.delivered)) return 'delivered';
    if (is(this.receipt.failed)) return 'failed';
    if (is(this.receipt.sent)) return 'sent';
    return undefined;
  }
}

export const httpProvider: ProviderType<typeof Settings> = {
  schema: Settings,
  create: (name, settings, deps) => new HttpGateway(name, settings, deps),
};
