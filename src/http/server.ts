import { readFileSync } from 'node:fs';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type DashboardConfig, dashboardConfig, type TrustProxy } from '../config.js';
import type { Context } from '../context.js';
import { OtpdError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { dashboardContext } from '../dashboard/context.js';
import type { Delivery } from '../delivery/registry.js';
import { adminAuth, apiKeyAuth } from './auth.js';
import { ErrorEnvelope } from './envelope.js';
import { errorHandler, sendError } from './errors.js';
import { idempotency, registerIdempotencyCompletion } from './idempotency.js';
import { registerHttpMetrics } from './metrics.js';
import { inboxRoutes } from './routes/admin/inbox.js';
import { providerRoutes } from './routes/admin/providers.js';
import { adminTemplateRoutes } from './routes/admin/templates.js';
import { tenancyRoutes } from './routes/admin/tenancy.js';
import { adminWalletRoutes } from './routes/admin/wallet.js';
import { webhookRoutes } from './routes/admin/webhooks.js';
import { callbackRoutes } from './routes/callbacks.js';
import { compatRoutes } from './routes/compat/index.js';
import { dashboardAdminRoutes } from './routes/dashboard/admin.js';
import { dashboardApi } from './routes/dashboard/index.js';
import { registerPages } from './routes/dashboard/pages.js';
import { healthRoutes } from './routes/health.js';
import { inboxPage } from './routes/inbox-page.js';
import { ussdRoutes } from './routes/ussd.js';
import { accountRoutes } from './routes/v1/account.js';
import { messageRoutes } from './routes/v1/messages.js';
import { otpRoutes } from './routes/v1/otp.js';
import { templateRoutes } from './routes/v1/templates.js';
import { walletRoutes } from './routes/v1/wallet.js';
import { refuseUnsafeInput, validatorCompiler } from './validation.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface ServerOptions {
  /** OTPD_ADMIN_TOKEN, when set. */
  adminToken?: string;
  /** Providers and routes: their callbacks and the USSD gateway are served when given. */
  delivery?: Delivery;
  /** The dashboard's mail, links, sign-up and cookies; read from the environment when not given. */
  dashboard?: DashboardConfig;
  /** OTPD_TRUST_PROXY: whose X-Forwarded-For gives `request.ip` (limits, logs); none by default. */
  trustProxy?: TrustProxy;
}

/** Fastify's `trustProxy`: a hop count trusts that many proxies nearest to otpd (as Fastify does with a number). */
function trustProxy(
  setting: TrustProxy | undefined,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting !== 'number') return setting ?? false;
  return (_address, hop) => hop < setting;
}

/** Bodies larger than this are refused with 413 PAYLOAD_TOO_LARGE. */
export const BODY_LIMIT = 64 * 1024;

export async function buildServer(ctx: Context, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    genReqId: () => newId('req'),
    requestIdHeader: false,
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxy(options.trustProxy),
    // Requests that arrive while closing get our own 503 (the hook below), not Fastify's body.
    return503OnClosing: false,
    // A URL Fastify cannot decode (`/v1/otp/%ZZ`) still gets the envelope.
    frameworkErrors: (_error, request, reply) =>
      sendError(request, reply, new OtpdError('INVALID_REQUEST', 'The URL is malformed.', { field: 'url' })),
    // One line per request is for debugging; at info it would double the log volume.
    logController: new LogController({
      disableRequestLogging: ctx.log.level !== 'debug' && ctx.log.level !== 'trace',
    }),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.addSchema(ErrorEnvelope);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new OtpdError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`),
    ),
  );
  // JSON only: text/plain bodies get 415 like any other type. An empty JSON
  // body (curl -X POST with the header and no data) counts as no body.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    body === '' ? done(null, undefined) : parseJson(request, body as string, done),
  );
  // Once close() began (SIGTERM), the listener is shut and idle connections
  // closed; a request still arriving on a kept-alive connection is told to
  // go elsewhere (the load balancer retries it on another process) and its
  // connection closes. Requests already in flight finish.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // An answer given while closing ends its connection: one kept alive would hold close() up.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) {
      reply.header('connection', 'close');
      return sendError(
        request,
        reply,
        new OtpdError('SERVICE_UNAVAILABLE', 'This otpd process is shutting down; try again.', {
          retry_after: 1,
        }),
      );
    }
  });
  app.addHook('preValidation', async (request) => {
    refuseUnsafeInput({ body: request.body, query: request.query, params: request.params });
  });
  registerHttpMetrics(app);
  registerIdempotencyCompletion(app, ctx);
  await app.register(cookie);
  const dashboard = dashboardContext(ctx, options.dashboard ?? dashboardConfig(process.env));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'otpd',
        version: VERSION,
        description:
          'Send, deliver and verify one-time codes. Every answer uses the `{success, data | error, request_id}` envelope.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'otpd_test_… or otpd_live_…' },
          operatorToken: { type: 'http', scheme: 'bearer', description: 'The operator token' },
        },
      },
      tags: [
        { name: 'OTP', description: 'Send and verify codes' },
        { name: 'Logs' },
        { name: 'Limits' },
        { name: 'Templates', description: 'Transactional SMS templates and sends' },
        { name: 'Wallet', description: 'Balance, ledger and usage reports' },
        { name: 'Webhooks' },
        { name: 'Admin', description: 'Operator API' },
      ],
    },
    // Shared schemas keep their $id as the component name (ErrorEnvelope, not def-0).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url }) => {
      const security = url.startsWith('/v1')
        ? [{ apiKey: [] }]
        : url.startsWith('/admin')
          ? [{ operatorToken: [] }]
          : undefined;
      return { schema: security ? { ...schema, security } : schema, url } as never;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes(ctx));
  await app.register(inboxPage(dashboard, options.adminToken));
  await registerPages(app);
  if (options.delivery) {
    await app.register(callbackRoutes(options.delivery));
    await app.register(ussdRoutes(ctx, options.delivery));
  }

  await app.register(compatRoutes(ctx), { prefix: '/compat' });
  await app.register(dashboardApi(dashboard, options.adminToken, options.delivery), {
    prefix: '/dashboard/api',
  });

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', apiKeyAuth(ctx));
      v1.addHook(
        'preHandler',
        idempotency(ctx, (request) => request.tenant.app.id),
      );
      await v1.register(otpRoutes(ctx));
      await v1.register(accountRoutes(ctx));
      await v1.register(messageRoutes(ctx));
      await v1.register(templateRoutes(ctx));
      await v1.register(walletRoutes(ctx));
    },
    { prefix: '/v1' },
  );

  await app.register(
    async (admin) => {
      admin.addHook('onRequest', adminAuth(ctx, options.adminToken));
      admin.addHook(
        'preHandler',
        idempotency(ctx, () => 'admin'),
      );
      await admin.register(tenancyRoutes(ctx));
      await admin.register(inboxRoutes(ctx));
      await admin.register(adminTemplateRoutes(ctx));
      await admin.register(webhookRoutes(ctx));
      await admin.register(adminWalletRoutes(ctx));
      await admin.register(dashboardAdminRoutes(dashboard));
      if (options.delivery) await admin.register(providerRoutes(ctx, options.delivery));
    },
    { prefix: '/admin/v1' },
  );

  return app;
}
