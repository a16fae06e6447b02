import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { invalid, OtpdError } from '../../core/errors.js';
import { commonSettings } from '../config.js';
import {
  type CallbackRequest,
  type CallbackResponse,
  type FailureKind,
  type OutboundMessage,
  type Provider,
  type ProviderDeps,
  ProviderError,
  type ProviderResult,
  type Receipt,
} from '../provider.js';
import type { ProviderType } from '../registry.js';
import { fetchFailure } from './fetch-failure.js';

const Settings = Type.Object(
  {
    ...commonSettings,
    /** The WhatsApp Business phone number's id (not the number itself). */
    phone_number_id: Type.String({ pattern: '^[0-9]{1,32}$' }),
    /** A system user's access token with `whatsapp_business_messaging`. */
    access_token: Type.String({ minLength: 1 }),
    /** The approved authentication template (one-time password with a copy-code button). */
    template: Type.String({ pattern: '^[a-z0-9_]{1,512}$', default: 'otp_code' }),
    /** The template language used when the message's locale is not in `languages`. */
    language: Type.String({ pattern: '^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$', default: 'en_US' }),
    /** Languages the template is approved in (`ne_NP`, `vi`); a message's locale picks one of them. */
    languages: Type.Optional(
      Type.Array(Type.String({ pattern: '^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$' }), { uniqueItems: true }),
    ),
    api_version: Type.String({ pattern: '^v[0-9]+\\.[0-9]+$', default: 'v21.0' }),
    /** The Meta app's secret: webhooks are refused unless their `X-Hub-Signature-256` matches it. */
    app_secret: Type.Optional(Type.String({ minLength: 1 })),
    /** What Meta must echo in the webhook subscription handshake (`hub.verify_token`). */
    verify_token: Type.Optional(Type.String({ minLength: 1 })),
    base_url: Type.String({ pattern: '^https?://[^\\s]+$', default: 'https://graph.facebook.com' }),
  },
  { additionalProperties: false },
);
type Settings = Static<typeof Settings>;

/** Meta refuses authentication codes longer than this. */
const MAX_CODE_LENGTH = 15;

/** Graph error codes that mean "slow down" or "Meta had a problem": the same send may work later. */
const RETRY_CODES = new Set([1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004]);
/** Refused for good: credentials, permissions, parameters, the recipient, the template. */
const PERMANENT_CODES = new Set([10, 100, 190, 131008, 131009, 131026, 131030, 131031, 131047, 131051]);

interface GraphError {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  error_data?: { details?: string };
  fbtrace_id?: string;
}

/** What a Graph error means for the send. */
export function classifyGraphError(httpStatus: number, code: number | undefined): FailureKind {
  if (code !== undefined) {
    if (RETRY_CODES.has(code)) return 'retry';
    // 132xxx: the template (missing, paused, wrong parameters); 200–299: permissions.
    if (PERMANENT_CODES.has(code) || (code >= 132000 && code < 133000) || (code >= 200 && code < 300)) {
      return 'permanent';
    }
  }
  if (httpStatus === 429 || httpStatus >= 500) return 'retry';
  return 'permanent';
}

/** `ne-NP` → `ne_NP` when the template is approved in it (or in `ne`); the default otherwise. */
export function templateLanguage(
  locale: string | null,
  settings: Pick<Settings, 'language' | 'languages'>,
): string {
  const allowed = settings.languages ?? [];
  if (locale && allowed.length > 0) {
    const [lang, region] = locale.split(/[-_]/);
    const base = lang!.toLowerCase();
    const full = region ? `${base}_${region.toUpperCase()}` : base;
    if (allowed.includes(full)) return full;
    if (allowed.includes(base)) return base;
  }
  return settings.language;
}

/** Compares two strings in time that does not depend on where they differ. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'compare').update(given).digest();
  const b = createHmac('sha256', 'compare').update(expected).digest();
  return timingSafeEqual(a, b);
}

function header(request: CallbackRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

interface StatusUpdate {
  id?: unknown;
  status?: unknown;
  timestamp?: unknown;
  recipient_id?: unknown;
  biz_opaque_callback_data?: unknown;
  errors?: { code?: unknown; title?: unknown }[];
}

const STATUS_MAP: Record<string, Receipt['status']> = {
  sent: 'sent',
  delivered: 'delivered',
  // Read implies delivered; a message already delivered stays as it is.
  read: 'delivered',
  failed: 'failed',
};

class WhatsAppProvider implements Provider {
  readonly type = 'whatsapp';
  readonly channels = ['whatsapp'] as const;
  /** Meta reports every accepted message by webhook, once the app secret lets us read them. */
  get receipts(): boolean {
    return Boolean(this.settings.app_secret);
  }
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private tokenRefused = false;

  constructor(
    readonly name: string,
    private readonly settings: Settings,
    private readonly deps: ProviderDeps,
  ) {
    const base = settings.base_url.replace(/\/+$/, '');
    this.endpoint = `${base}/${settings.api_version}/${settings.phone_number_id}/messages`;
    this.timeoutMs = (settings.timeout ?? 10) * 1000;
  }

  async send(message: OutboundMessage): Promise<ProviderResult> {
    const { code } = message;
    if (!code) {
      throw new ProviderError(
        'WhatsApp authentication templates carry a code; this message has none.',
        'permanent',
      );
    }
    if (code.length > MAX_CODE_LENGTH) {
      throw new ProviderError(`WhatsApp takes codes of at most ${MAX_CODE_LENGTH} characters.`, 'permanent');
    }
    const body = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: message.phone.replace(/^\+/, ''),
      type: 'template',
      template: {
        name: this.settings.template,
        language: { code: templateLanguage(message.locale, this.settings) },
        components: [
          { type: 'body', parameters: [{ type: 'text', text: code }] },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: code }] },
        ],
      },
      biz_opaque_callback_data: message.id,
    };

    let response: Response;
    let text: string;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.settings.access_token}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      // The request may have left: then Meta may have the message, and it is not sent to it again.
      throw fetchFailure(error, 'WhatsApp', this.timeoutMs);
    }

    let parsed: { messages?: { id?: unknown }[]; error?: GraphError } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }

    if (response.ok) {
      this.tokenRefused = false;
      const id = parsed?.messages?.[0]?.id;
      if (typeof id !== 'string') {
        // Meta took it (2xx) but the answer is unreadable: the webhook matches it by our id.
        this.deps.log.warn(
          { message_id: message.id, status: response.status },
          'WhatsApp answer without a message id',
        );
      }
      return { provider_message_id: typeof id === 'string' ? id : null, status: 'sent' };
    }

    const error = parsed?.error;
    const kind = classifyGraphError(response.status, error?.code);
    if (error?.code === 190) this.tokenRefused = true;
    const detail =
      [error?.message, error?.error_data?.details].filter(Boolean).join(': ') || `HTTP ${response.status}`;
    // Meta echoes parameters in some messages; the code never goes into an error.
    const safe = detail.split(code).join('…').slice(0, 300);
    this.deps.log.warn(
      {
        message_id: message.id,
        status: response.status,
        error_code: error?.code,
        fbtrace_id: error?.fbtrace_id,
      },
      'WhatsApp refused the message',
    );
    throw new ProviderError(
      `WhatsApp ${response.status}${error?.code !== undefined ? ` (${error.code})` : ''}: ${safe}`,
      kind,
      error?.code !== undefined ? String(error.code) : String(response.status),
    );
  }

  async handleCallback(request: CallbackRequest): Promise<CallbackResponse> {
    if (request.method === 'GET') return this.handshake(request);
    this.checkSignature(request);

    let payload: { entry?: { changes?: { field?: string; value?: unknown }[] }[] };
    try {
      payload = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw invalid('body', 'The webhook body is not valid JSON.');
    }
    // Receipts never undo a final status, so their order does not matter; Meta waits for all of them.
    await Promise.all(this.receiptsOf(payload).map((receipt) => this.deps.receipts(receipt)));
    return { status: 200, body: 'ok' };
  }

  health(): { ok: boolean; detail?: string } {
    return this.tokenRefused ? { ok: false, detail: 'Meta refused the access token (190).' } : { ok: true };
  }

  /** Meta's subscription check: echo `hub.challenge` when `hub.verify_token` is ours. */
  private handshake(request: CallbackRequest): CallbackResponse {
    const { verify_token } = this.settings;
    const given = request.query['hub.verify_token'];
    const challenge = request.query['hub.challenge'];
    if (
      !verify_token ||
      request.query['hub.mode'] !== 'subscribe' ||
      typeof given !== 'string' ||
      typeof challenge !== 'string' ||
      !sameSecret(given, verify_token)
    ) {
      throw new OtpdError('INVALID_SIGNATURE', 'The webhook verify token is missing or wrong.');
    }
    return { status: 200, body: challenge };
  }

  /** `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>`, before any parsing. */
  private checkSignature(request: CallbackRequest): void {
    const secret = this.settings.app_secret;
    const match = /^sha256=([0-9a-f]{64})$/i.exec(header(request, 'x-hub-signature-256')?.trim() ?? '');
    if (!secret || !match) throw new OtpdError('INVALID_SIGNATURE');
    const expected = createHmac('sha256', secret).update(request.body).digest();
    if (!timingSafeEqual(Buffer.from(match[1]!, 'hex'), expected)) throw new OtpdError('INVALID_SIGNATURE');
  }

  private receiptsOf(payload: unknown): Receipt[] {
    const receipts: Receipt[] = [];
    const entries = (payload as { entry?: unknown })?.entry;
    if (!Array.isArray(entries)) return receipts;
    for (const entry of entries) {
      const changes = (entry as { changes?: unknown })?.changes;
      if (!Array.isArray(changes)) continue;
      for (const change of changes) {
        const value = (change as { value?: unknown })?.value as
          | { metadata?: { phone_number_id?: unknown }; statuses?: unknown }
          | undefined;
        // Another number of the same Meta app: not ours to settle.
        const number = value?.metadata?.phone_number_id;
        if (number !== undefined && String(number) !== this.settings.phone_number_id) continue;
        if (!Array.isArray(value?.statuses)) continue;
        for (const update of value.statuses as StatusUpdate[]) {
          const receipt = this.receiptOf(update);
          if (receipt) receipts.push(receipt);
        }
      }
    }
    return receipts;
  }

  private receiptOf(update: StatusUpdate): Receipt | undefined {
    const status = typeof update?.status === 'string' ? STATUS_MAP[update.status] : undefined;
    if (!status || typeof update.id !== 'string') return undefined;
    const seconds = Number(update.timestamp);
    const first = Array.isArray(update.errors) ? update.errors[0] : undefined;
    return {
      provider: this.name,
      provider_message_id: update.id,
      message_id:
        typeof update.biz_opaque_callback_data === 'string' ? update.biz_opaque_callback_data : null,
      status,
      error:
        status === 'failed'
          ? [first?.code, first?.title].filter((p) => p !== undefined && p !== null).join(' ') || 'failed'
          : null,
      at: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null,
    };
  }
}

export const whatsappProvider: ProviderType<typeof Settings> = {
  schema: Settings,
  create(name, settings, deps) {
    return new WhatsAppProvider(name, settings, deps);
  },
};
