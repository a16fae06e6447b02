import { ProviderError } from '../provider.js';

/**
 * Errors of `fetch` raised before a byte of the request left (connecting or
 * the TLS handshake failed): the provider never saw the message.
 */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The first `code` along an error's `cause` chain (undici wraps the socket's). */
function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * What a failed `fetch` to a provider means: `retry` when the request never
 * left, `unknown` when it may have (a timeout, a connection broken after
 * writing), so the message is not sent there again blindly.
 */
export function fetchFailure(error: unknown, who: string, timeoutMs: number): ProviderError {
  const name = (error as { name?: unknown }).name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new ProviderError(`No answer from ${who} within ${timeoutMs / 1000} s.`, 'unknown', 'TIMEOUT');
  }
  const code = causeCode(error);
  if (code && NOT_SENT.has(code)) return new ProviderError(`Cannot reach ${who} (${code}).`, 'retry', code);
  return new ProviderError(`The connection to ${who} broke (${code ?? 'no answer'}).`, 'unknown', code);
}
