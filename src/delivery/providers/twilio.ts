import { createHmac } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { ConfigError } from '../../config.js';
import { safeEqual } from '../../core/crypto.js';
import { OtpdError } from '../../core/errors.js';
import type { Channel } from '../../core/policy.js';
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
 * Twilio, without its SDK: Programmable Messaging for SMS and `whatsapp:`
 * numbers, Calls with inline TwiML for voice. Status callbacks come back to
 * `/callbacks/<name>` and are checked against `X-Twilio-Signature`.
 */

const DEFAULT_BASE_URL = 'https://api.twilio.com';
const E164 = '^\\+[1-9][0-9]{6,14}$';

const Settings = Type.Object(
  {
    ...commonSettings,
    /** The account (`AC…`): in the URL and the Basic auth user. */
    account_sid: Type.String({ pattern: '^AC[0-9a-fA-F]{32}$' }),
    /** The account's auth token: the Basic auth password and the key of callback signatures. */
    auth_token: Type.String({ minLength: 1 }),
    /** The SMS sender: a Twilio number (E.164) or an alphanumeric sender ID. */
    from: Type.Optional(Type.String({ pattern: '^(\\+[1-9][0-9]{6,14}|[A-Za-z0-9 ]{1,11})$' })),
    /** A Messaging Service (`MG…`) that picks the SMS sender instead of `from`. */
    messaging_service_sid: Type.Optional(Type.String({ pattern: '^MG[0-9a-fA-F]{32}$' })),
    /** The WhatsApp sender (E.164); the whatsapp channel exists only with it. */
    whatsapp_from: Type.Optional(Type.String({ pattern: E164 })),
    /** The caller number for voice (E.164); `from` when absent. */
    voice_from: Type.Optional(Type.String({ pattern: E164 })),
    /** The API's address (tests point it at a loopback server). */
    base_url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', default: DEFAULT_BASE_URL })),
  },
  { additionalProperties: false },
);
type Settings = Static<typeof Settings>;

/** Twilio error codes that mean "later", though answered with 400. */
const RETRYABLE_CODES = new Set([
  14107, // SMS send rate limit exceeded
  20429, // too many requests
  21611, // the sender's queue is full
]);

const MESSAGE_STATUS: Record<string, Receipt['status']> = {
  // Twilio has it: enough to settle an unknown outcome.
  queued: 'sent',
  accepted: 'sent',
  sending: 'sent',
  sent: 'sent',
  delivered: 'delivered',
  // WhatsApp: read implies delivered (the delivered callback may be skipped).
  read: 'delivered',
  undelivered: 'failed',
  failed: 'failed',
};

const CALL_STATUS: Record<string, Receipt['status']> = {
  completed: 'delivered',
  busy: 'failed',
  'no-answer': 'failed',
  failed: 'failed',
  canceled: 'failed',
};

const xml = (text: string) =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/**
 * The TwiML of a voice message: the text with the code spoken one character
 * at a time ("1, 2, 3, 4"), said twice.
 */
export function voiceTwiml(text: string, code: string | null, locale: string | null): string {
  const spoken = code ? text.split(code).join(code.split('').join(', ')) : text;
  const say = `<Say language="${xml((locale ?? 'en-US').replace(/_/g, '-'))}">${xml(spoken)}</Say>`;
  return `<Response>${say}<Pause length="1"/>${say}</Response>`;
}

/**
 * Twilio's request signature: HMAC-SHA1 with the auth token over the URL and
 * every POST parameter, sorted by name, as name + value; base64.
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const names = [...new Set(params.keys())].sort();
  let data = url;
  for (const name of names) {
    for (const value of params.getAll(name).sort()) data += name + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/**
 * Twilio may sign the URL with or without the scheme's default port (behind
 * some proxies): both forms are accepted, as its own libraries do.
 */
function urlForms(url: string): string[] {
  const match = /^(https?):\/\/([^/?#]+)(.*)$/s.exec(url);
  if (!match) return [url];
  const [, scheme, authority, rest] = match;
  const port = scheme === 'https' ? ':443' : ':80';
  if (authority!.endsWith(port)) return [url, `${scheme}://${authority!.slice(0, -port.length)}${rest}`];
  if (/:\d+$/.test(authority!)) return [url];
  return [url, `${scheme}://${authority}${port}${rest}`];
}

interface TwilioError {
  code?: number;
  message?: string;
  status?: number;
}

class TwilioProvider implements Provider {
  readonly type = 'twilio';
  readonly channels: readonly Channel[];
  private readonly base: string;
  /** Twilio reports on every message and call by status callback, once there is a URL to call. */
  get receipts(): boolean {
    return this.deps.callbackUrl !== null;
  }
  private readonly authorization: string;
  private readonly voiceFrom: string | undefined;
  private readonly timeoutMs: number;
  private refused: string | undefined;

  constructor(
    readonly name: string,
    private readonly settings: Settings,
    private readonly deps: ProviderDeps,
  ) {
    if (!settings.from && !settings.messaging_service_sid) {
      throw new ConfigError(`providers.${name}: set from or messaging_service_sid.`);
    }
    this.base = `${(settings.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, '')}/2010-04-01/Accounts/${settings.account_sid}`;
    this.authorization = `Basic ${Buffer.from(`${settings.account_sid}:${settings.auth_token}`).toString('base64')}`;
    const voiceFrom = settings.voice_from ?? settings.from;
    // Calls need a number to call from; an alphanumeric sender cannot call.
    this.voiceFrom = voiceFrom && new RegExp(E164).test(voiceFrom) ? voiceFrom : undefined;
    this.timeoutMs = (settings.timeout ?? 10) * 1000;
    const channels: Channel[] = ['sms'];
    if (settings.whatsapp_from) channels.push('whatsapp');
    if (this.voiceFrom) channels.push('voice');
    this.channels = channels;
  }

  async send(message: OutboundMessage): Promise<ProviderResult> {
    const form = new URLSearchParams();
    const callback = this.callbackFor(message.id);
    if (message.channel === 'voice') {
      if (!this.voiceFrom) throw new ProviderError(`${this.name} has no number to call from.`, 'permanent');
      form.set('To', message.phone);
      form.set('From', this.voiceFrom);
      form.set('Twiml', voiceTwiml(message.text, message.code, message.locale));
      if (callback) {
        form.set('StatusCallback', callback);
        form.set('StatusCallbackEvent', 'completed');
      }
      return this.post('Calls.json', form);
    }
    if (message.channel === 'whatsapp') {
      if (!this.settings.whatsapp_from) {
        throw new ProviderError(`${this.name} has no WhatsApp sender.`, 'permanent');
      }
      form.set('To', `whatsapp:${message.phone}`);
      form.set('From', `whatsapp:${this.settings.whatsapp_from}`);
    } else if (message.channel === 'sms') {
      form.set('To', message.phone);
      // A Messaging Service picks the sender from its pool; `from` is then for calls only.
      if (this.settings.messaging_service_sid) {
        form.set('MessagingServiceSid', this.settings.messaging_service_sid);
      } else {
        form.set('From', this.settings.from!);
      }
    } else {
      throw new ProviderError(`${this.name} does not send ${message.channel}.`, 'permanent');
    }
    form.set('Body', message.text);
    if (callback) form.set('StatusCallback', callback);
    return this.post('Messages.json', form);
  }

  /** Our message id and a token for it ride in the callback URL: a forged callback cannot name another message. */
  private callbackFor(messageId: string): string | null {
    const url = this.deps.callbackUrl;
    if (!url) return null;
    return `${url}?message_id=${encodeURIComponent(messageId)}&token=${encodeURIComponent(this.deps.sign(messageId))}`;
  }

  private async post(resource: string, form: URLSearchParams): Promise<ProviderResult> {
    let response: Response;
    try {
      response = await fetch(`${this.base}/${resource}`, {
        method: 'POST',
        headers: {
          authorization: this.authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw this.networkError(error);
    }
    let body: unknown = {};
    try {
      body = await response.json();
    } catch {
      // Accepted, but the answer broke off: the callback still finds the message by our id.
      if (response.ok) return { provider_message_id: null, status: 'sent' };
    }
    if (response.ok) {
      this.refused = undefined;
      const { sid, num_segments } = body as { sid?: unknown; num_segments?: unknown };
      const segments = Number(num_segments);
      return {
        provider_message_id: typeof sid === 'string' ? sid : null,
        status: 'sent',
        ...(Number.isInteger(segments) && segments > 0 ? { segments } : {}),
      };
    }
    throw this.refusal(response.status, body as TwilioError);
  }

  private refusal(status: number, body: TwilioError): ProviderError {
    const code = typeof body.code === 'number' ? body.code : undefined;
    const reason = `Twilio answered ${status}${code ? ` with ${code}` : ''}${body.message ? `: ${body.message}` : '.'}`;
    if (status === 401 || status === 403) {
      this.refused = reason;
      return new ProviderError(reason, 'permanent', String(code ?? status));
    }
    const retry = status === 429 || status >= 500 || (code !== undefined && RETRYABLE_CODES.has(code));
    return new ProviderError(reason, retry ? 'retry' : 'permanent', String(code ?? status));
  }

  private networkError(error: unknown): ProviderError {
    return fetchFailure(error, 'Twilio', this.timeoutMs);
  }

  async handleCallback(request: CallbackRequest): Promise<CallbackResponse> {
    const params = new URLSearchParams(request.body.toString('utf8'));
    const header = request.headers['x-twilio-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    const signed =
      typeof signature === 'string' &&
      urlForms(request.url).some((url) =>
        safeEqual(twilioSignature(this.settings.auth_token, url, params), signature),
      );
    if (!signed) throw new OtpdError('INVALID_SIGNATURE');
    const messageId = request.query.message_id;
    if (messageId !== undefined && !this.deps.verify(messageId, request.query.token ?? '')) {
      throw new OtpdError('INVALID_SIGNATURE', 'The callback token does not match its message.');
    }
    const receipt = this.receiptOf(params);
    if (receipt) await this.deps.receipts({ ...receipt, message_id: messageId ?? null });
    return { status: 204 };
  }

  private receiptOf(params: URLSearchParams): Omit<Receipt, 'message_id'> | undefined {
    const messageStatus = params.get('MessageStatus') ?? params.get('SmsStatus');
    const messageSid = params.get('MessageSid') ?? params.get('SmsSid');
    const errorCode = params.get('ErrorCode');
    if (messageStatus !== null && messageSid !== null) {
      const status = MESSAGE_STATUS[messageStatus];
      if (!status) return undefined;
      return {
        provider: this.name,
        provider_message_id: messageSid,
        status,
        ...(status === 'failed' ? { error: errorCode || messageStatus } : {}),
      };
    }
    const callStatus = params.get('CallStatus');
    const callSid = params.get('CallSid');
    if (callStatus !== null && callSid !== null) {
      const status = CALL_STATUS[callStatus];
      if (!status) return undefined;
      return {
        provider: this.name,
        provider_message_id: callSid,
        status,
        ...(status === 'failed' ? { error: errorCode || callStatus } : {}),
      };
    }
    return undefined;
  }

  health(): { ok: boolean; detail?: string } {
    return this.refused ? { ok: false, detail: this.refused } : { ok: true };
  }
}

export const twilioProvider: ProviderType<typeof Settings> = {
  schema: Settings,
  create: (name, settings, deps) => new TwilioProvider(name, settings, deps),
};
