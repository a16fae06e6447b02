import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import { cancelOtp } from '../../../otp/cancel.js';
import { getOtp, listOtpAttempts, listOtpRecords } from '../../../otp/read.js';
import { resendOtp } from '../../../otp/resend.js';
import { sendOtp } from '../../../otp/send.js';
import { verifyOtp } from '../../../otp/verify.js';
import { Nullable, ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { Channel, CodeType, Id, OtpDetail, OtpRecord, OtpStatus, Timestamp } from '../../schemas.js';
import { timeParam } from '../../validation.js';

const Phone = Type.String({
  minLength: 3,
  maxLength: 32,
  description: "E.164 (+9779841234567), or national with the app's default_country",
  examples: ['+9779841234567'],
});
const Code = Type.String({ minLength: 1, maxLength: 32, description: 'What the user typed' });
const Metadata = Type.Object(
  {},
  { additionalProperties: true, description: 'Your own data, ≤ 4 KB as JSON' },
);

const SendBody = Type.Object(
  {
    phone: Phone,
    channel: Type.Optional(Channel),
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    metadata: Type.Optional(Metadata),
    code_type: Type.Optional(CodeType),
    code_length: Type.Optional(Type.Integer({ minimum: 4, maximum: 12 })),
    expiry: Type.Optional(Type.Integer({ minimum: 60, maximum: 86400, description: 'seconds' })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    message: Type.Optional(
      Type.String({ minLength: 6, maxLength: 640, description: 'Template with {code}, {minutes}, {app}' }),
    ),
    sender_id: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
    locale: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$', maxLength: 35 })),
    ip: Type.Optional(
      Type.String({ minLength: 2, maxLength: 45, description: "The end user's IP, for the ip_hour limit" }),
    ),
    code: Type.Optional(
      Type.String({ minLength: 4, maxLength: 12, description: 'Your own code (allow_custom_code)' }),
    ),
  },
  { additionalProperties: false },
);

const VerifyBody = Type.Object(
  {
    otp_id: Type.Optional(Id('otp')),
    phone: Type.Optional(Phone),
    code: Code,
  },
  { additionalProperties: false },
);

const Verified = Type.Object({
  verified: Type.Literal(true),
  otp_id: Type.String(),
  phone: Type.String(),
  status: Type.Literal('verified'),
  reference: Nullable(Type.String()),
  metadata: Nullable(Type.Object({}, { additionalProperties: true })),
  verified_at: Timestamp,
});

const OtpParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export const otpRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/otp/send',
      {
        schema: {
          tags: ['OTP'],
          summary: 'Send a one-time code',
          body: SendBody,
          response: responses(201, OtpRecord),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await sendOtp(ctx, request.tenant, request.body))),
    );

    app.post(
      '/otp/verify',
      {
        schema: {
          tags: ['OTP'],
          summary: 'Check a code',
          description: "By `otp_id`, or by `phone` (the phone's active OTP). Every call counts one attempt.",
          body: VerifyBody,
          response: responses(200, Verified),
        },
      },
      async (request) => ok(request.id, await verifyOtp(ctx, request.tenant, request.body)),
    );

    app.post(
      '/otp/resend',
      {
        schema: {
          tags: ['OTP'],
          summary: 'Send the same code again',
          description:
            'After the resend cooldown; optionally on another channel. Never resets failed attempts.',
          body: Type.Object(
            {
              otp_id: Id('otp'),
              channel: Type.Optional(Channel),
              ip: Type.Optional(Type.String({ minLength: 2, maxLength: 45 })),
            },
            { additionalProperties: false },
          ),
          response: responses(200, OtpRecord),
        },
      },
      async (request) => ok(request.id, await resendOtp(ctx, request.tenant, request.body)),
    );

    app.post(
      '/otp/:id/cancel',
      {
        schema: {
          tags: ['OTP'],
          summary: 'Cancel a pending code',
          params: OtpParams,
          response: responses(200, OtpRecord),
        },
      },
      async (request) => ok(request.id, await cancelOtp(ctx, request.tenant, request.params.id)),
    );

    app.get(
      '/otp/:id',
      {
        schema: {
          tags: ['OTP'],
          summary: 'Status of one OTP, with each delivery and its status',
          params: OtpParams,
          response: responses(200, OtpDetail),
        },
      },
      async (request) => ok(request.id, await getOtp(ctx, request.tenant, request.params.id)),
    );

    app.get(
      '/otp/:id/attempts',
      {
        schema: {
          tags: ['OTP'],
          summary: 'Verification attempts of one OTP',
          params: OtpParams,
          response: responses(
            200,
            Type.Object({
              otp_id: Type.String(),
              attempts: Type.Integer(),
              max_attempts: Type.Integer(),
              items: Type.Array(
                Type.Object({
                  id: Type.String(),
                  outcome: Type.Union([Type.Literal('correct'), Type.Literal('incorrect')]),
                  created_at: Timestamp,
                }),
              ),
            }),
          ),
        },
      },
      async (request) => ok(request.id, await listOtpAttempts(ctx, request.tenant, request.params.id)),
    );

    app.get(
      '/otp',
      {
        schema: {
          tags: ['OTP'],
          summary: 'List OTPs, newest first',
          querystring: Type.Object(
            {
              status: Type.Optional(OtpStatus),
              phone: Type.Optional(Phone),
              reference: Type.Optional(Type.String({ maxLength: 128 })),
              from: Type.Optional(Timestamp),
              to: Type.Optional(Timestamp),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(OtpRecord)),
        },
      },
      async (request) => {
        const q = request.query;
        return ok(
          request.id,
          await listOtpRecords(ctx, request.tenant, {
            status: q.status as never,
            phone: q.phone,
            reference: q.reference,
            from: timeParam(q.from, 'from'),
            to: timeParam(q.to, 'to'),
            cursor: q.cursor,
            limit: q.limit ?? 20,
          }),
        );
      },
    );
  };
