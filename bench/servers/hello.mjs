/**
 * The framework's ceiling: a Fastify server that parses a JSON body and
 * answers otpd's envelope, with nothing behind it. Plain JavaScript, run by
 * plain node (like otpd's built CLI), so no loader sits in its memory or CPU.
 * It tells its port to the parent over IPC.
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/hello', async (request, reply) => {
  const body = request.body;
  reply.code(201);
  return {
    success: true,
    data: {
      otp_id: `otp_${randomBytes(11).toString('base64url')}`,
      phone: body.phone ?? null,
      status: 'pending',
      channel: 'sms',
      attempts_remaining: 3,
      expires_at: new Date(Date.now() + 300_000).toISOString(),
    },
    request_id: `req_${randomBytes(11).toString('base64url')}`,
  };
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.send({ port: app.server.address().port });
process.on('disconnect', () => void app.close().then(() => process.exit(0)));
