import pino, { type Logger } from 'pino';

/**
 * Paths that may hold a code, a key or a token anywhere otpd logs: they are
 * replaced before a line is written.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'code',
  '*.code',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'admin_token',
  '*.admin_token',
  'text',
  '*.text',
  'body.code',
  'body.secret',
];

const SENSITIVE_QUERY = /key|token|secret|code|pass|auth/i;

/** The URL with the values of sensitive query parameters replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of [...params.keys()]) if (SENSITIVE_QUERY.test(name)) params.set(name, '[Redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      serializers: {
        // `*.code` is redacted, so an error's own code (SQLSTATE, OtpdError) travels as error_code.
        err: (error: Error & { code?: unknown }) => ({
          ...pino.stdSerializers.err(error),
          code: undefined,
          error_code: error.code,
        }),
        req: (req: { method: string; url: string; id: string }) => ({
          id: req.id,
          method: req.method,
          // A log call must never throw, whatever shape `req` has.
          url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
        }),
      },
    },
    destination,
  );
}
