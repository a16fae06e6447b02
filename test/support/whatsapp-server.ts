import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in for graph.facebook.com's WhatsApp Cloud API: checks
 * the bearer token, the path and the authentication-template body the way
 * Meta does, answers in Graph's shapes, and sends status webhooks signed
 * with the app secret (`X-Hub-Signature-256`) like Meta, or badly signed.
 */

/** A template message Meta accepted. */
export interface AcceptedTemplate {
  wamid: string;
  to: string;
  template: string;
  language: string;
  /** The body parameter (the code). */
  bodyCode: string;
  /** The copy-code button's parameter. */
  buttonCode: string;
  biz_opaque_callback_data: string | undefined;
  /** The request body exactly as it came. */
  raw: unknown;
}

export interface GraphFailure {
  /** HTTP status of the answer. */
  status: number;
  /** Graph's `error.code`. */
  code: number;
  error_subcode?: number;
  message?: string;
}

export type StatusName = 'sent' | 'delivered' | 'read' | 'failed';

export interface StatusUpdate {
  /** The wamid; the accepted message's when `message` is given. */
  id?: string;
  status: StatusName;
  recipient_id?: string;
  biz_opaque_callback_data?: string;
  /** Unix seconds; now when absent. */
  timestamp?: number;
  errors?: { code: number; title: string; details?: string }[];
}

/** How a webhook is signed: as Meta does, not at all, with another secret, or signed then altered in transit. */
export type Signing = 'valid' | 'missing' | 'wrong' | 'tampered';

export interface WhatsAppServerOptions {
  accessToken: string;
  phoneNumberId: string;
  appSecret: string;
  apiVersion?: string;
  /** Approved templates and their languages (default: `otp_code` in en_US and ne_NP). */
  templates?: Record<string, string[]>;
  wabaId?: string;
}

const graphError = (message: string, type: string, code: number, extra: Record<string, unknown> = {}) => ({
  error: { message, type, code, ...extra, fbtrace_id: randomBytes(8).toString('base64url') },
});

/** Meta's webhook JSON escapes `/` and non-ASCII: the signature is over these bytes, not a re-serialisation. */
const metaJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export class WhatsAppServer {
  url = '';
  readonly accepted: AcceptedTemplate[] = [];
  /** Every request that reached the messages endpoint, accepted or not. */
  requests = 0;
  private readonly server: Server;
  private readonly failures: GraphFailure[] = [];
  private hangs = 0;
  private drops = 0;
  private readonly options: Required<WhatsAppServerOptions>;

  constructor(options: WhatsAppServerOptions) {
    this.options = {
      apiVersion: 'v21.0',
      templates: { otp_code: ['en_US', 'ne_NP'] },
      wabaId: '102290129340398',
      ...options,
    };
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `n` sends get this Graph error. */
  failNext(n: number, failure: GraphFailure): void {
    for (let i = 0; i < n; i++) this.failures.push(failure);
  }

  /** The next `n` sends are accepted (a wamid is made) but never answered: the answer is lost. */
  hangNext(n: number): void {
    this.hangs += n;
  }

  /** The next `n` sends are read, then the connection is cut without an answer. */
  dropNext(n: number): void {
    this.drops += n;
  }

  /** `X-Hub-Signature-256` of some bytes, as Meta computes it with the app secret. */
  signature(body: Buffer, secret = this.options.appSecret): string {
    return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  }

  /** The accepted message whose body carried our message id. */
  acceptedFor(messageId: string): AcceptedTemplate | undefined {
    return this.accepted.find((m) => m.biz_opaque_callback_data === messageId);
  }

  /** A status webhook as Meta would POST it: the body bytes and headers. */
  webhook(
    updates: StatusUpdate[],
    signing: Signing = 'valid',
  ): { body: Buffer; headers: Record<string, string> } {
    const now = Math.floor(Date.now() / 1000);
    const statuses = updates.map((u) => ({
      id: u.id,
      status: u.status,
      timestamp: String(u.timestamp ?? now),
      recipient_id: u.recipient_id,
      ...(u.biz_opaque_callback_data !== undefined
        ? { biz_opaque_callback_data: u.biz_opaque_callback_data }
        : {}),
      ...(u.status !== 'failed'
        ? {
            conversation: { id: randomBytes(16).toString('hex'), origin: { type: 'authentication' } },
            pricing: { billable: true, pricing_model: 'PMP', category: 'authentication', type: 'regular' },
          }
        : {}),
      ...(u.errors
        ? {
            errors: u.errors.map((e) => ({
              code: e.code,
              title: e.title,
              message: e.title,
              error_data: {
                details:
                  e.details ??
                  'See https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
              },
              href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
            })),
          }
        : {}),
    }));
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: this.options.wabaId,
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: '15550783881',
                  phone_number_id: this.options.phoneNumberId,
                },
                statuses,
              },
              field: 'messages',
            },
          ],
        },
      ],
    };
    let body = Buffer.from(metaJson(payload));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'facebookexternalua',
    };
    if (signing === 'valid' || signing === 'tampered') headers['x-hub-signature-256'] = this.signature(body);
    if (signing === 'wrong')
      headers['x-hub-signature-256'] = this.signature(body, `${this.options.appSecret}-not`);
    if (signing === 'tampered') {
      // Altered after signing: a failure turned into a delivery, or the other way round.
      const altered = body
        .toString()
        .replace(/"status":"(\w+)"/, (_, s) => `"status":"${s === 'failed' ? 'delivered' : 'failed'}"`);
      body = Buffer.from(altered);
    }
    return { body, headers };
  }

  /** The statuses of an accepted message, filled in from what was sent (id, recipient, opaque data). */
  statusesOf(message: AcceptedTemplate, ...list: (StatusName | Partial<StatusUpdate>)[]): StatusUpdate[] {
    return list.map((item) => {
      const update = typeof item === 'string' ? { status: item } : item;
      return {
        id: message.wamid,
        recipient_id: message.to,
        biz_opaque_callback_data: message.biz_opaque_callback_data,
        ...update,
      } as StatusUpdate;
    });
  }

  /** POSTs a status webhook to `url` like Meta; answers the HTTP status and body. */
  async post(
    url: string,
    updates: StatusUpdate[],
    signing: Signing = 'valid',
  ): Promise<{ status: number; body: string }> {
    const { body, headers } = this.webhook(updates, signing);
    const res = await fetch(url, { method: 'POST', headers, body });
    return { status: res.status, body: await res.text() };
  }

  private send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'content-type': 'application/json; charset=UTF-8',
      'x-fb-trace-id': 'loopback',
      ...headers,
    });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const { apiVersion, phoneNumberId, accessToken } = this.options;

    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${accessToken}`) {
      return this.send(
        res,
        401,
        graphError('Invalid OAuth access token - Cannot parse access token', 'OAuthException', 190),
        { 'www-authenticate': 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"' },
      );
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const match = /^\/(v[0-9]+\.[0-9]+)\/([^/]+)\/messages$/.exec(path);
    if (req.method !== 'POST' || !match) {
      return this.send(res, 400, graphError(`Unknown path components: ${path}`, 'OAuthException', 2500));
    }
    if (match[1] !== apiVersion) {
      return this.send(res, 400, graphError(`Unsupported version ${match[1]}`, 'OAuthException', 2635));
    }
    if (match[2] !== phoneNumberId) {
      return this.send(
        res,
        400,
        graphError(
          `Unsupported post request. Object with ID '${match[2]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
          'GraphMethodException',
          100,
          { error_subcode: 33 },
        ),
      );
    }
    if (!String(req.headers['content-type']).startsWith('application/json')) {
      return this.send(
        res,
        400,
        graphError('(#100) The parameter messaging_product is required.', 'OAuthException', 100),
      );
    }
    this.requests++;

    let body: any;
    try {
      body = JSON.parse(raw);
    } catch {
      return this.send(res, 400, graphError('(#100) Invalid JSON in request body', 'OAuthException', 100));
    }
    const invalid = (message: string, code = 100, details?: string) =>
      this.send(
        res,
        400,
        graphError(
          message,
          'OAuthException',
          code,
          details ? { error_data: { messaging_product: 'whatsapp', details } } : {},
        ),
      );

    if (body?.messaging_product !== 'whatsapp') {
      return invalid('(#100) The parameter messaging_product is required.');
    }
    if (body.recipient_type !== undefined && body.recipient_type !== 'individual') {
      return invalid('(#100) Param recipient_type must be one of {INDIVIDUAL, GROUP}');
    }
    if (typeof body.to !== 'string' || !/^[0-9]{7,15}$/.test(body.to)) {
      return invalid('(#100) Invalid parameter', 100, 'Param to is not a valid phone number');
    }
    if (body.type !== 'template' || typeof body.template !== 'object' || body.template === null) {
      return invalid('(#131008) Required parameter is missing', 131008, 'Parameter template is required');
    }
    const { name, language, components } = body.template;
    const languages = this.options.templates[name];
    if (typeof name !== 'string' || !languages) {
      return invalid(
        '(#132001) Template name does not exist in the translation',
        132001,
        `template name (${name}) does not exist`,
      );
    }
    if (typeof language?.code !== 'string' || !languages.includes(language.code)) {
      return invalid(
        '(#132001) Template name does not exist in the translation',
        132001,
        `template name (${name}) does not exist in ${language?.code}`,
      );
    }
    if (!Array.isArray(components)) {
      return invalid('(#132000) Number of parameters does not match the expected number of params', 132000);
    }
    const bodyPart = components.find((c: any) => c?.type === 'body');
    const button = components.find((c: any) => c?.type === 'button');
    const bodyParams = bodyPart?.parameters;
    const buttonParams = button?.parameters;
    if (
      !Array.isArray(bodyParams) ||
      bodyParams.length !== 1 ||
      !Array.isArray(buttonParams) ||
      buttonParams.length !== 1
    ) {
      return invalid(
        '(#132000) Number of parameters does not match the expected number of params',
        132000,
        'body: number of localizable_params (0) does not match the expected number of params (1)',
      );
    }
    if (button.sub_type !== 'url' || String(button.index) !== '0') {
      return invalid(
        '(#131009) Parameter value is not valid',
        131009,
        'Button at index 0 of type Url requires a parameter',
      );
    }
    const [bodyParam] = bodyParams;
    const [buttonParam] = buttonParams;
    if (
      bodyParam?.type !== 'text' ||
      typeof bodyParam.text !== 'string' ||
      buttonParam?.type !== 'text' ||
      typeof buttonParam.text !== 'string'
    ) {
      return invalid('(#132012) Parameter format does not match format in the created template', 132012);
    }
    if (bodyParam.text.length > 15 || buttonParam.text.length > 15) {
      return invalid(
        '(#131009) Parameter value is not valid',
        131009,
        'OTP code must be at most 15 characters',
      );
    }
    if (bodyParam.text !== buttonParam.text) {
      return invalid(
        '(#131009) Parameter value is not valid',
        131009,
        'The copy code button must carry the code of the body',
      );
    }
    if (
      body.biz_opaque_callback_data !== undefined &&
      (typeof body.biz_opaque_callback_data !== 'string' || body.biz_opaque_callback_data.length > 512)
    ) {
      return invalid('(#100) Param biz_opaque_callback_data must be a string of at most 512 characters');
    }

    if (this.drops > 0) {
      this.drops--;
      req.socket.destroy();
      return;
    }
    const failure = this.failures.shift();
    if (failure) {
      return this.send(
        res,
        failure.status,
        graphError(failure.message ?? `(#${failure.code}) Loopback failure`, 'OAuthException', failure.code, {
          ...(failure.error_subcode ? { error_subcode: failure.error_subcode } : {}),
        }),
      );
    }

    const wamid = `wamid.${randomBytes(24).toString('base64')}`;
    this.accepted.push({
      wamid,
      to: body.to,
      template: name,
      language: language.code,
      bodyCode: bodyParam.text,
      buttonCode: buttonParam.text,
      biz_opaque_callback_data: body.biz_opaque_callback_data,
      raw: body,
    });
    if (this.hangs > 0) {
      this.hangs--;
      return; // accepted, never answered
    }
    this.send(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: body.to, wa_id: body.to }],
      messages: [{ id: wamid, message_status: 'accepted' }],
    });
  }
}

export async function startWhatsAppServer(options: WhatsAppServerOptions): Promise<WhatsAppServer> {
  return new WhatsAppServer(options).listen();
}
