import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

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
