import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, refusedAddress, WebhookTargetError } from './ssrf.js';

/** What one POST to an endpoint came to. */
export interface PostOutcome {
  /** The receiver's HTTP status; null when no answer came. */
  status: number | null;
  latencyMs: number;
  /** Why it did not succeed (also set for non-2xx answers). */
  error: string | null;
  /** `Retry-After` of the answer, in ms from now. */
  retryAfterMs: number | null;
}

export interface PostOptions {
  timeoutMs: number;
  allowPrivate: boolean;
}

const USER_AGENT = 'otpd-webhooks/1';

/**
 * POSTs `body` to `url` with node:http(s), not fetch: the connection goes
 * only to an address that `guardedLookup` checked, redirects are never
 * followed (a 3xx is an answer like any other), and the whole exchange up
 * to the response headers is bounded by `timeoutMs`. Never throws.
 */
export function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: PostOptions,
): Promise<PostOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve({
      status: null,
      latencyMs: 0,
      error: 'The URL is not valid.',
      retryAfterMs: null,
    });
  }
  // An IP literal is connected to without a lookup: check it here.
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host) ? refusedAddress(host, options.allowPrivate) : null;
  if (literal || (target.protocol !== 'http:' && target.protocol !== 'https:') || target.username) {
    const error = literal ? `Refused: ${literal}.` : 'Refused: only http(s) URLs without credentials.';
    return Promise.resolve({ status: null, latencyMs: 0, error, retryAfterMs: null });
  }

  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': USER_AGENT,
      },
      // A fresh connection per request: nothing pooled can point elsewhere.
      agent: false,
      lookup: guardedLookup(options.allowPrivate) as never,
    });
    const limit =
      options.timeoutMs >= 1000 ? `${Math.round(options.timeoutMs / 1000)} s` : `${options.timeoutMs} ms`;
    const timer = setTimeout(() => req.destroy(new Error(`Timed out after ${limit}.`)), options.timeoutMs);
    timer.unref();
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      finish({
        status,
        latencyMs: elapsed(),
        error: status >= 200 && status < 300 ? null : describeStatus(res),
        retryAfterMs: parseRetryAfter(res.headers['retry-after'], Date.now()),
      });
      // The body is not read: drain it until it ends or the timer fires.
      res.on('end', () => clearTimeout(timer));
      res.on('error', () => {});
      res.resume();
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      finish({ status: null, latencyMs: elapsed(), error: describeError(error), retryAfterMs: null });
    });
    req.end(body);
  });
}

function describeStatus(res: IncomingMessage): string {
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400) {
    const location = res.headers.location ? ` to ${String(res.headers.location).slice(0, 200)}` : '';
    return `HTTP ${status}: redirect${location} not followed`;
  }
  return `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage.slice(0, 100)}` : ''}`;
}

function describeError(error: NodeJS.ErrnoException): string {
  if (error instanceof WebhookTargetError) return error.message;
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'Connection refused.';
    case 'ECONNRESET':
      return 'Connection reset by the receiver.';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host does not resolve (${error.code}).`;
    default:
      return error.code ? `${error.code}: ${error.message}` : error.message;
  }
}

/** `Retry-After` in ms from `now`: delta seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its day and month; Date.parse would also take "-5".
  if (!/[A-Za-z]{3}/.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
