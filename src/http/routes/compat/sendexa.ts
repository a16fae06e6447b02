import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  DURATIONS,
  errorAnswer,
  PIN_TYPES,
  requestAnswer,
  toSendInput,
  toVerifyInput,
  verifiedAnswer,
} from '../../../compat/sendexa.js';
import type { Context } from '../../../context.js';
import { sendOtp } from '../../../otp/send.js';
import { verifyOtp } from '../../../otp/verify.js';
import { apiKeyAuth } from '../../auth.js';
import { answerErrorsAs } from './errors.js';

const RequestBody = Type.Object(
  {
    phone: Type.String({ minLength: 3, maxLength: 32 }),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
    message: Type.Optional(Type.String({ minLength: 6, maxLength: 640 })),
    pinLength: Type.Optional(Type.Integer({ minimum: 4, maximum: 12 })),
    pinType: Type.Optional(Type.Union(PIN_TYPES.map((t) => Type.Literal(t)))),
    expiry: Type.Optional(
      Type.Object(
        {
          amount: Type.Integer({ minimum: 1, maximum: 1440 }),
          duration: Type.Union(DURATIONS.map((d) => Type.Literal(d))),
        },
        { additionalProperties: false },
      ),
    ),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    metadata: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: false },
);

const VerifyBody = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    pin: Type.String({ minLength: 1, maxLength: 32 }),
  },
  { additionalProperties: false },
);

/**
 * `/compat/sendexa`: Sendexa's OTP API. The key goes where Sendexa's goes
 * (`Authorization: Basic <base64>`, the base64 of the otpd key), or any way
 * /v1 accepts it.
 */
export const sendexaRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    answerErrorsAs(app, errorAnswer);
    app.addHook('onRequest', apiKeyAuth(ctx));

    app.post('/v1/otp/request', { schema: { hide: true, body: RequestBody } }, async (request) => {
      const { tenant } = request;
      return requestAnswer(await sendOtp(ctx, tenant, toSendInput(request.body, tenant.app.expiry)));
    });

    app.post('/v1/otp/verify', { schema: { hide: true, body: VerifyBody } }, async (request) => {
      await verifyOtp(ctx, request.tenant, toVerifyInput(request.body));
      return verifiedAnswer();
    });
  };
