import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  errorAnswer,
  requestAnswer,
  toSendInput,
  toVerifyInput,
  verdictOf,
} from '../../../compat/nexcode.js';
import type { Context } from '../../../context.js';
import { OtpdError } from '../../../core/errors.js';
import { sendOtp } from '../../../otp/send.js';
import { verifyOtp } from '../../../otp/verify.js';
import { apiKeyAuth } from '../../auth.js';
import { Channel } from '../../schemas.js';
import { answerErrorsAs } from './errors.js';

const RequestBody = Type.Object(
  {
    msisdn: Type.String({ minLength: 3, maxLength: 32 }),
    customer_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    channel: Type.Optional(Channel),
  },
  { additionalProperties: false },
);

const VerifyBody = Type.Object(
  {
    request_id: Type.String({ minLength: 1, maxLength: 64 }),
    otp: Type.String({ minLength: 1, maxLength: 32 }),
  },
  { additionalProperties: false },
);

/** `/compat/nexcode`: NexCode's request → verify → YES/NO flow. */
export const nexcodeRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    answerErrorsAs(app, (error, request) =>
      errorAnswer(error, request.routeOptions.url?.endsWith('/otp/verify') ? 'verify' : 'request'),
    );
    app.addHook('onRequest', apiKeyAuth(ctx));

    app.post('/otp/request', { schema: { hide: true, body: RequestBody } }, async (request) =>
      requestAnswer(await sendOtp(ctx, request.tenant, toSendInput(request.body))),
    );

    app.post('/otp/verify', { schema: { hide: true, body: VerifyBody } }, async (request) => {
      try {
        await verifyOtp(ctx, request.tenant, toVerifyInput(request.body));
        return { verified: true as const };
      } catch (error) {
        const verdict = error instanceof OtpdError ? verdictOf(error) : undefined;
        if (verdict) return verdict;
        throw error;
      }
    });
  };
