import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, type ErrorCode, OtpdError } from '../core/errors.js';
import { databaseUnavailable } from '../store/db.js';

/** Fastify's own client errors, mapped onto otpd's codes. */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
};

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** The field an Ajv error is about, in dotted form (`metadata.x`, `limits.phone_hour.max`). */
function fieldOf(e: AjvError): string {
  const path = e.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const child = (e.params.missingProperty ?? e.params.additionalProperty) as string | undefined;
  return [path, child].filter(Boolean).join('.') || 'body';
}

function describe(e: AjvError, field: string): string {
  if (e.keyword === 'required') return `${field} is required.`;
  if (field === 'body' && e.keyword === 'type') return 'A JSON object body is required.';
  if (e.keyword === 'additionalProperties') return `${field} is not a known field.`;
  return `${field} ${e.message ?? 'is invalid'}.`;
}

export function toOtpdError(error: FastifyError | Error): OtpdError | undefined {
  if (error instanceof OtpdError) return error;
  const down = databaseUnavailable(error);
  if (down) return new OtpdError('SERVICE_UNAVAILABLE', down.message, { retry_after: down.retryAfter });
  const fe = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe.validation?.[0]) {
    const first = fe.validation[0];
    const field = fieldOf(first);
    const where = fe.validationContext === 'querystring' ? 'query ' : '';
    return new OtpdError('INVALID_REQUEST', `${where}${describe(first, field)}`, { field });
  }
  const mapped = fe.code ? FRAMEWORK_CODES[fe.code] : undefined;
  if (mapped) return new OtpdError(mapped);
  // JSON.parse's own errors, and secure-json-parse refusing __proto__.
  if (fe.statusCode === 400 && (error instanceof SyntaxError || /JSON|prototype/i.test(error.message))) {
    return new OtpdError('INVALID_JSON');
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    const byStatus = (Object.keys(ERRORS) as ErrorCode[]).find((c) => ERRORS[c].status === fe.statusCode);
    return new OtpdError(byStatus ?? 'INVALID_REQUEST');
  }
  return undefined;
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: OtpdError) {
  if (error.extras.retry_after !== undefined) reply.header('retry-after', String(error.extras.retry_after));
  return reply.code(error.status).send({
    success: false,
    error: { code: error.code, message: error.message, ...error.extras },
    request_id: request.id,
  });
}

/** While the database is down every request fails alike: one warning per interval says so, not a stack each. */
const UNAVAILABLE_LOG_MS = 10_000;
let lastUnavailableLog = 0;
let unavailableSince = 0;

function warnUnavailable(request: FastifyRequest, error: Error, answer: OtpdError) {
  unavailableSince++;
  const now = Date.now();
  if (now - lastUnavailableLog < UNAVAILABLE_LOG_MS) return;
  request.log.warn(
    { error: error.message, error_code: (error as { code?: unknown }).code, requests: unavailableSince },
    `database unavailable, answering 503: ${answer.message}`,
  );
  lastUnavailableLog = now;
  unavailableSince = 0;
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const known = toOtpdError(error);
  if (known && !(error instanceof OtpdError) && known.code === 'SERVICE_UNAVAILABLE') {
    warnUnavailable(request, error, known);
  }
  if (known) return sendError(request, reply, known);
  request.log.error({ err: error }, 'unhandled error');
  return sendError(request, reply, new OtpdError('INTERNAL_ERROR'));
}
