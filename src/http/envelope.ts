import { type TSchema, Type } from '@sinclair/typebox';
import { ERRORS } from '../core/errors.js';

/** The success envelope. */
export const ok = <T>(requestId: string, data: T) => ({
  success: true as const,
  data,
  request_id: requestId,
});

/** `{success: true, data, request_id}` around a route's data schema. */
export const Ok = <T extends TSchema>(data: T) =>
  Type.Object({ success: Type.Literal(true), data, request_id: Type.String() });

export const ErrorEnvelope = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object(
      {
        code: Type.Union(Object.keys(ERRORS).map((c) => Type.Literal(c))),
        message: Type.String(),
        field: Type.Optional(Type.String()),
        attempts_remaining: Type.Optional(Type.Integer()),
        retry_after: Type.Optional(Type.Integer()),
        otp_id: Type.Optional(Type.String()),
        scope: Type.Optional(Type.String()),
        resend_available_at: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    request_id: Type.String(),
  },
  { $id: 'ErrorEnvelope', title: 'Error' },
);

/** Response schemas of a route: its success shape plus the error envelope. */
export const responses = <T extends TSchema>(status: number, data: T) => ({
  [status]: Ok(data),
  '4xx': Type.Ref('ErrorEnvelope'),
  '5xx': Type.Ref('ErrorEnvelope'),
});

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const PageOf = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), next_cursor: Nullable(Type.String()) });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.String({ maxLength: 64 })),
};
