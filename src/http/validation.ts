import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { invalid } from '../core/errors.js';

/**
 * Request validation. Query strings, params and headers arrive as text, so
 * their numbers and booleans are coerced; JSON bodies carry real types and
 * are taken as sent: `"max_attempts": "3"` or `"max": true` is refused
 * rather than guessed at. Unknown fields are refused, never silently dropped.
 */
function makeAjv(coerceTypes: boolean | 'array'): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats.default(ajv);
  return ajv;
}

const bodies = makeAjv(false);
const text = makeAjv('array');

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodies : text).compile(schema) as ReturnType<FastifySchemaCompiler<object>>;

/** JSON deeper than this is refused before anything recurses over it. */
export const MAX_DEPTH = 32;

/**
 * Refuses what a schema cannot: NUL characters (PostgreSQL cannot store
 * them in text) anywhere in the body, query or params, and bodies nested
 * deeper than MAX_DEPTH. Iterative, so hostile nesting cannot exhaust the stack.
 */
export function refuseUnsafeInput(parts: Record<string, unknown>): void {
  const stack: { value: unknown; path: string; depth: number }[] = Object.entries(parts).map(
    ([part, value]) => ({
      value,
      path: part === 'query' ? 'query' : '',
      depth: 0,
    }),
  );
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000'))
        throw invalid(path || 'body', `${path || 'body'} must not contain NUL characters.`);
    } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
      if (depth >= MAX_DEPTH)
        throw invalid(path || 'body', `JSON nested deeper than ${MAX_DEPTH} levels is refused.`);
      for (const [key, child] of Object.entries(value)) {
        if (key.includes('\u0000'))
          throw invalid(path || 'body', 'Field names must not contain NUL characters.');
        stack.push({ value: child, path: path ? `${path}.${key}` : key, depth: depth + 1 });
      }
    }
  }
}

/** An ISO time from a query string as milliseconds; refuses what Date cannot read (leap seconds). */
export function timeParam(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms))
    throw invalid(field, `${field} must be an ISO 8601 time, such as 2026-01-31T12:00:00Z.`);
  return ms;
}
