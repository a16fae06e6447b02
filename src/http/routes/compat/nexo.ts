import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  customCodeRefused,
  errorAnswer,
  isCustomCodeRefusal,
  sentAnswer,
  toSendInput,
} from '../../../compat/nexo.js';
import type { Context } from '../../../context.js';
import { sendOtp } from '../../../otp/send.js';
import { apiKeyAuth } from '../../auth.js';
import { answerErrorsAs, sendAnswer } from './errors.js';

const SendBody = Type.Object(
  {
    phone: Type.String({ minLength: 3, maxLength: 32 }),
    code: Type.String({ minLength: 4, maxLength: 12 }),
  },
  { additionalProperties: false },
);

/** `/compat/nexo`: NEXO ROUTE's send-otp, delivering a code the caller generated. */
export const nexoRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    answerErrorsAs(app, errorAnswer);
    app.addHook('onRequest', apiKeyAuth(ctx));

    app.post('/api/v1/send-otp', { schema: { hide: true, body: SendBody } }, async (request, reply) => {
      const { tenant } = request;
      try {
        return sentAnswer(await sendOtp(ctx, tenant, toSendInput(request.body)));
      } catch (error) {
        if (isCustomCodeRefusal(error, tenant.app.allow_custom_code)) {
          return sendAnswer(reply, customCodeRefused());
        }
        throw error;
      }
    });
  };
