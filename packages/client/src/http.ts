import { OtpdError, OtpdNetworkError } from './errors.js';

export interface TransportOptions {
  apiKey: string;
  baseUrl: string;
  fetch: typeof fetch;
  timeoutMs: number;
  maxRetries: number;
  retryRateLimited: boolean;
  maxRetryAfterSeconds: number;
}

/** Options of one call; each overrides the client's for that call only. */
export interface RequestOptions {
  /**
   * The `Idempotency-Key` of a POST. By default a random UUID per call,
   * reused by that call's retries. Pass your own (e.g. your order id) to make
   * a call safe to repeat across restarts of your process: otpd replays the
   * first answer for 24 h.
   */
  idempotencyKey?: string;
  /** Cancels the call (and its retries). */
  signal?: AbortSignal;
  timeoutMs?: number;
  maxRetries?: number;
}

type Query = Record<string, string | number | boolean | undefined | null>;

/** Retries wait 0.5 s, 1 s, 2 s, … (capped at 8 s), each between half and all of that. */
const backoff = (attempt: number) => {
  const ceiling = Math.min(8_000, 500 * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
};

/** Retry-After in seconds, or an HTTP date; undefined when absent or unreadable. */
function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const randomKey = () => globalThis.crypto.randomUUID();

interface Outcome {
  status: number;
  requestId: string | null;
  retryAfter: number | undefined;
  json: unknown;
}

/**
 * HTTP under the client: auth, JSON, the envelope, and retries.
 *
 * What is retried, and why it is safe:
 * - no answer (connection failed, reset, or `timeoutMs` ran out), `5xx`, and
 *   `409 IDEMPOTENCY_CONFLICT` (the same POST is still running on the
 *   server): GET and DELETE are repeatable as they are; every POST carries
 *   an `Idempotency-Key` that its retries reuse, so otpd does the work once
 *   and replays the first answer;
 * - `429` only when `retryRateLimited` is on, and only when its `retry_after`
 *   is at most `maxRetryAfterSeconds` (otherwise the error is thrown at once:
 *   a `phone_hour` limit is not worth blocking a request for).
 */
export class Transport {
  constructor(private readonly options: TransportOptions) {}

  async request<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    init: { body?: unknown; query?: Query } = {},
    options: RequestOptions = {},
  ): Promise<T> {
    const url = this.url(path, init.query);
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.options.apiKey}`,
    };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    }
    const idempotencyKey = method === 'POST' ? (options.idempotencyKey ?? randomKey()) : undefined;
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    const maxRetries = options.maxRetries ?? this.options.maxRetries;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;

    for (let attempt = 0; ; attempt++) {
      let outcome: Outcome;
      try {
        outcome = await this.attempt(url, { method, headers, body }, timeoutMs, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
        if (attempt < maxRetries) {
          await sleep(backoff(attempt), options.signal);
          continue;
        }
        throw new OtpdNetworkError(
          timedOut
            ? `otpd did not answer ${method} ${path} within ${timeoutMs} ms (${attempt + 1} attempts).`
            : `Could not reach otpd for ${method} ${path} (${attempt + 1} attempts): ${String((error as Error)?.message ?? error)}`,
          { cause: error, timedOut, attempts: attempt + 1, idempotencyKey },
        );
      }

      const envelope = outcome.json as { success?: unknown; data?: unknown; error?: unknown } | undefined;
      if (outcome.status >= 200 && outcome.status < 300 && envelope?.success === true) {
        return envelope.data as T;
      }
      const error = new OtpdError(
        outcome.status,
        envelope?.success === false && envelope.error && typeof envelope.error === 'object'
          ? (envelope.error as Record<string, unknown>)
          : {},
        outcome.requestId,
      );
      const wait = attempt < maxRetries ? this.retryWait(error, outcome.retryAfter, attempt) : undefined;
      if (wait === undefined) throw error;
      await sleep(wait, options.signal);
    }
  }

  /** How long to wait before retrying after `error`; undefined: do not retry. */
  private retryWait(error: OtpdError, retryAfter: number | undefined, attempt: number): number | undefined {
    if (error.status >= 500 || error.code === 'IDEMPOTENCY_CONFLICT') {
      // A 503 may say when to come back; within reason, believe it.
      return retryAfter !== undefined ? Math.min(retryAfter, 30) * 1000 : backoff(attempt);
    }
    if (error.status === 429 && this.options.retryRateLimited) {
      const seconds = error.retry_after ?? retryAfter;
      if (seconds !== undefined && seconds <= this.options.maxRetryAfterSeconds) return seconds * 1000;
    }
    return undefined;
  }

  private async attempt(
    url: string,
    init: { method: string; headers: Record<string, string>; body: string | undefined },
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException('The request timed out.', 'TimeoutError')),
      timeoutMs,
    );
    const onAbort = () => controller.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Called unbound: a browser's fetch throws "Illegal invocation" when called as a method of another object.
      const fetchFn = this.options.fetch;
      const response = await fetchFn(url, { ...init, signal: controller.signal });
      // The timeout covers the body too: a connection that stalls mid-answer is no answer.
      const text = await response.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return {
        status: response.status,
        requestId:
          response.headers.get('x-request-id') ??
          (typeof (json as { request_id?: unknown })?.request_id === 'string'
            ? (json as { request_id: string }).request_id
            : null),
        retryAfter: retryAfterSeconds(response.headers.get('retry-after')),
        json,
      };
    } catch (error) {
      throw controller.signal.aborted && !signal?.aborted ? controller.signal.reason : error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private url(path: string, query: Query | undefined): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) search.set(name, String(value));
    }
    const qs = search.toString();
    return `${this.options.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }
}
