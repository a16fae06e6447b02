import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CompatAnswer } from '../../../compat/answer.js';
import { OtpdError } from '../../../core/errors.js';
import { toOtpdError } from '../../errors.js';

/** An otpd error in a reference's shape. */
export type ErrorMapper = (error: OtpdError, request: FastifyRequest) => CompatAnswer;

export function sendAnswer(reply: FastifyReply, answer: CompatAnswer) {
  return reply.code(answer.status).send(answer.body);
}

/**
 * Every failure under a reference's prefix answers in that reference's shape:
 * bad keys, bodies that do not parse or validate, engine errors, unknown
 * routes, and (as a 500) anything unexpected. `Retry-After` goes with every
 * `retry_after`, as on /v1.
 */
export function answerErrorsAs(app: FastifyInstance, map: ErrorMapper): void {
  const send = (request: FastifyRequest, reply: FastifyReply, error: OtpdError) => {
    if (error.extras.retry_after !== undefined) reply.header('retry-after', String(error.extras.retry_after));
    return sendAnswer(reply, map(error, request));
  };
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = toOtpdError(error);
    if (!known) request.log.error({ err: error }, 'unhandled error');
    return send(request, reply, known ?? new OtpdError('INTERNAL_ERROR'));
  });
  app.setNotFoundHandler((request, reply) =>
    send(
      request,
      reply,
      new OtpdError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`),
    ),
  );
}
