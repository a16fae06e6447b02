import type { FastifyInstance } from 'fastify';
import { Histogram } from 'prom-client';

const requestDuration = new Histogram({
  name: 'otpd_http_request_duration_seconds',
  help: 'HTTP requests by route and status.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
});

/** Times every request by its route pattern (never its URL, which may hold ids). */
export function registerHttpMetrics(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unknown',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
}
