import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { OtpdError } from '../../core/errors.js';
import { parsePhone } from '../../core/phone.js';
import type { DashboardContext } from '../../dashboard/context.js';
import { InboxFeed, type InboxScope, readScopedInbox } from '../../dashboard/inbox.js';
import { readMail } from '../../dashboard/mail.js';
import { isAdminToken } from '../../tenancy/init.js';
import { authenticate } from '../../tenancy/keys.js';
import { credentialOf } from '../auth.js';
import { ok, responses } from '../envelope.js';
import { InboxItem } from './admin/inbox.js';
import { MailItem } from './dashboard/admin.js';
import { loadSession } from './dashboard/session.js';

/** Keep-alive comments stop proxies from closing an idle event stream. */
const PING_MS = 15_000;

/**
 * The dev inbox (the page itself is the dashboard's /inbox): the messages
 * the inbox provider received, as a list and as a live stream of
 * server-sent events. Who reads decides what they see: an API key its app's
 * messages, a tenant session its account's, the operator token or an
 * operator session every app's (and the mail outbox).
 */
export const inboxPage =
  (ctx: DashboardContext, adminToken: string | undefined): FastifyPluginAsyncTypebox =>
  async (app) => {
    const feed = new InboxFeed(ctx);
    const streams = new Set<() => void>();
    app.addHook('onClose', async () => {
      for (const end of streams) end();
      feed.stop();
    });

    async function scopeOf(request: FastifyRequest): Promise<InboxScope> {
      const credential = credentialOf(request);
      if (credential) {
        if (await isAdminToken(ctx, credential, adminToken)) return { kind: 'all' };
        return { kind: 'app', appId: (await authenticate(ctx, credential)).app.id };
      }
      await loadSession(ctx, request);
      const session = request.dashboardSession;
      if (session?.secondFactorDone) {
        if (session.user.role === 'operator') return { kind: 'all' };
        if (session.user.account_id) return { kind: 'account', accountId: session.user.account_id };
      }
      throw new OtpdError(
        'INVALID_API_KEY',
        'Send an API key or the operator token, or log in to the dashboard.',
      );
    }

    const phoneOf = (phone: string | undefined) => (phone === undefined ? undefined : parsePhone(phone).e164);

    app.get(
      '/inbox/messages',
      {
        schema: {
          hide: true,
          querystring: Type.Object(
            { phone: Type.Optional(Type.String({ minLength: 3, maxLength: 32 })) },
            { additionalProperties: false },
          ),
          response: responses(200, Type.Object({ items: Type.Array(InboxItem) })),
        },
      },
      async (request) => {
        const scope = await scopeOf(request);
        const items = await readScopedInbox(ctx, scope, { phone: phoneOf(request.query.phone), limit: 100 });
        return ok(request.id, { items });
      },
    );

    app.get(
      '/inbox/stream',
      {
        schema: {
          hide: true,
          querystring: Type.Object(
            {
              phone: Type.Optional(Type.String({ minLength: 3, maxLength: 32 })),
              after: Type.Optional(Type.String({ pattern: '^inb_[0-9A-Za-z]{1,40}$' })),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request, reply) => {
        // Refusals come before the stream opens, in the envelope like any other.
        const scope = await scopeOf(request);
        const phone = phoneOf(request.query.phone);
        const lastEventId = request.headers['last-event-id'];
        const after =
          request.query.after ??
          (typeof lastEventId === 'string' && /^inb_\w+$/.test(lastEventId) ? lastEventId : undefined);

        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
          'x-request-id': request.id,
        });
        raw.write('retry: 2000\n\n');
        const sent = new Set<string>();
        let caughtUp = false;
        const queued: Parameters<Parameters<InboxFeed['subscribe']>[2]>[0][] = [];
        const send = (message: (typeof queued)[number]) => {
          // The feed re-reads its last seconds; what the reader already has is not news.
          if (sent.has(message.id) || (after !== undefined && message.id <= after)) return;
          sent.add(message.id);
          raw.write(`id: ${message.id}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`);
        };
        // Subscribe first and catch up after, so nothing falls between the two.
        const unsubscribe = feed.subscribe(scope, phone, (message) =>
          caughtUp ? send(message) : queued.push(message),
        );
        const ping = setInterval(() => raw.write(': ping\n\n'), PING_MS);
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          clearInterval(ping);
          unsubscribe();
          streams.delete(end);
          raw.end();
        };
        streams.add(end);
        raw.on('close', end);
        if (after !== undefined) {
          for (const message of await readScopedInbox(ctx, scope, { phone, after, limit: 200 }))
            send(message);
        }
        caughtUp = true;
        for (const message of queued.splice(0)) send(message);
        raw.write(': ready\n\n');
      },
    );

    app.get(
      '/inbox/mail',
      {
        schema: {
          hide: true,
          querystring: Type.Object(
            { to: Type.Optional(Type.String({ maxLength: 254 })) },
            { additionalProperties: false },
          ),
          response: responses(200, Type.Object({ items: Type.Array(MailItem) })),
        },
      },
      async (request) => {
        // Mail holds sign-up and reset links of every user: the operator's only.
        if ((await scopeOf(request)).kind !== 'all') {
          throw new OtpdError(
            'INVALID_ADMIN_TOKEN',
            'The mail outbox is for the operator token or an operator login.',
          );
        }
        return ok(request.id, { items: await readMail(ctx, { to: request.query.to, limit: 100 }) });
      },
    );
  };
