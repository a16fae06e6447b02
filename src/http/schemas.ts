import { Type } from '@sinclair/typebox';
import { CODE_TYPES } from '../core/codes.js';
import { CHANNELS, ENVIRONMENTS, LIMIT_SCOPES } from '../core/policy.js';
import { Nullable } from './envelope.js';

/** Schemas shared by several routes; each route's own schema sits beside its handler. */
export const Channel = Type.Union(CHANNELS.map((c) => Type.Literal(c)));
export const CodeType = Type.Union(CODE_TYPES.map((c) => Type.Literal(c)));
export const Environment = Type.Union(ENVIRONMENTS.map((e) => Type.Literal(e)));
export const Country = Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2' });
export const Id = (prefix: string) =>
  Type.String({ pattern: `^${prefix}_[0-9A-Za-z]{1,40}$`, maxLength: 48 });
export const Timestamp = Type.String({ format: 'date-time' });

export const OtpStatus = Type.Union(
  ['pending', 'verified', 'expired', 'canceled', 'max_attempts', 'failed'].map((s) => Type.Literal(s)),
);

export const OtpRecord = Type.Object(
  {
    otp_id: Type.String(),
    app_id: Type.String(),
    phone: Type.String({ description: 'E.164' }),
    country: Nullable(Type.String()),
    channel: Channel,
    status: OtpStatus,
    reference: Nullable(Type.String()),
    metadata: Nullable(Type.Object({}, { additionalProperties: true })),
    attempts: Type.Integer(),
    max_attempts: Type.Integer(),
    attempts_remaining: Type.Integer(),
    send_count: Type.Integer(),
    expires_at: Timestamp,
    resend_available_at: Nullable(Timestamp),
    created_at: Timestamp,
    verified_at: Nullable(Timestamp),
  },
  { title: 'OTP' },
);

export const MessageStatus = Type.Union(
  ['queued', 'sending', 'sent', 'delivered', 'failed', 'unknown'].map((s) => Type.Literal(s)),
  {
    description:
      'queued → sending → sent → delivered | failed; unknown: the provider may have it, waiting for its receipt',
  },
);

export const MessageRecord = Type.Object(
  {
    message_id: Type.String(),
    otp_id: Nullable(Type.String()),
    kind: Type.Union([Type.Literal('otp'), Type.Literal('sms')]),
    channel: Channel,
    phone: Type.String({ description: 'E.164' }),
    status: MessageStatus,
    provider: Nullable(Type.String()),
    provider_message_id: Nullable(Type.String()),
    error: Nullable(Type.String()),
    tries: Type.Integer(),
    segments: Nullable(Type.Integer()),
    created_at: Timestamp,
    sent_at: Nullable(Timestamp),
    delivered_at: Nullable(Timestamp),
    failed_at: Nullable(Timestamp),
  },
  { title: 'Message' },
);

/** One OTP with its deliveries: each send, resend and fallback, with its channel and status. */
export const OtpDetail = Type.Composite(
  [
    OtpRecord,
    Type.Object({
      delivery_status: Nullable(MessageStatus),
      deliveries: Type.Array(MessageRecord),
    }),
  ],
  { title: 'OTPDetail' },
);

export const Limit = Type.Object(
  {
    max: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    window: Type.Integer({ minimum: 1, maximum: 604800, description: 'seconds' }),
  },
  { additionalProperties: false },
);

/** Limit overrides by scope; on PATCH they merge, and null drops a scope's override. */
export const LimitOverrides = Type.Partial(
  Type.Object(
    Object.fromEntries(LIMIT_SCOPES.map((s) => [s, Nullable(Limit)])) as Record<
      string,
      ReturnType<typeof Nullable<typeof Limit>>
    >,
    { additionalProperties: false },
  ),
);

/** The policy fields of an app, all optional (defaults apply). */
export const PolicyFields = {
  code_type: Type.Optional(CodeType),
  code_length: Type.Optional(Type.Integer({ minimum: 4, maximum: 12 })),
  expiry: Type.Optional(Type.Integer({ minimum: 60, maximum: 86400, description: 'seconds' })),
  max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
  resend_cooldown: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'seconds' })),
  channels: Type.Optional(Type.Array(Channel, { minItems: 1, uniqueItems: true })),
  default_channel: Type.Optional(Channel),
  default_country: Type.Optional(Nullable(Country)),
  sender_id: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 20 }))),
  message: Type.Optional(Type.String({ minLength: 6, maxLength: 640 })),
  allowed_countries: Type.Optional(Nullable(Type.Array(Country, { minItems: 1, maxItems: 250 }))),
  allow_custom_code: Type.Optional(Type.Boolean()),
  limits: Type.Optional(LimitOverrides),
  fallback_channels: Type.Optional(
    Type.Array(Channel, {
      maxItems: 4,
      uniqueItems: true,
      description: "Channels tried after a message's own when it fails or stays undelivered",
    }),
  ),
  fallback_after: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 3600,
      description:
        'seconds a sent message may stay undelivered before the next fallback channel; 0 = on failure only',
    }),
  ),
  send_channels: Type.Optional(
    Nullable(
      Type.Array(Channel, {
        minItems: 1,
        maxItems: 10,
        description: 'channel of the n-th send of one OTP when the request names none; the last repeats',
      }),
    ),
  ),
};

export const AppRecord = Type.Object(
  {
    id: Type.String(),
    account_id: Type.String(),
    name: Type.String(),
    environment: Environment,
    code_type: CodeType,
    code_length: Type.Integer(),
    expiry: Type.Integer(),
    max_attempts: Type.Integer(),
    resend_cooldown: Type.Integer(),
    channels: Type.Array(Channel),
    default_channel: Channel,
    default_country: Nullable(Type.String()),
    sender_id: Nullable(Type.String()),
    message: Type.String(),
    allowed_countries: Nullable(Type.Array(Type.String())),
    allow_custom_code: Type.Boolean(),
    limits: Type.Object({}, { additionalProperties: Limit }),
    fallback_channels: Type.Array(Channel),
    fallback_after: Type.Integer(),
    send_channels: Nullable(Type.Array(Channel)),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'App' },
);
