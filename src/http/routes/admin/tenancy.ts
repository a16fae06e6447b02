import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import { createAccount, getAccount, listAllAccounts } from '../../../tenancy/accounts.js';
import { changeApp, createApp, getApp, listAllApps } from '../../../tenancy/apps.js';
import { createKey, listKeys, revokeKey } from '../../../tenancy/keys.js';
import { Nullable, ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { AppRecord, Environment, PolicyFields, Timestamp } from '../../schemas.js';

const AccountRecord = Type.Object({
  id: Type.String(),
  name: Type.String(),
  email: Nullable(Type.String()),
  balance: Type.Integer({ description: 'micro-units of currency' }),
  currency: Type.String(),
  created_at: Timestamp,
});

const KeyRecord = Type.Object({
  id: Type.String(),
  app_id: Type.String(),
  environment: Environment,
  display: Type.String({ description: 'Prefix and last 4 characters' }),
  created_at: Timestamp,
  last_used_at: Nullable(Timestamp),
  revoked_at: Nullable(Timestamp),
});

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const Name = Type.String({ minLength: 1, maxLength: 100 });

/** Accounts, apps and keys: the operator's side of tenancy. */
export const tenancyRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/accounts',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Create an account (tenant)',
          body: Type.Object(
            {
              name: Name,
              email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
              currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3,5}$' })),
            },
            { additionalProperties: false },
          ),
          response: responses(201, AccountRecord),
        },
      },
      async (request, reply) => reply.code(201).send(ok(request.id, await createAccount(ctx, request.body))),
    );

    app.get(
      '/accounts',
      {
        schema: {
          tags: ['Admin'],
          summary: 'List accounts',
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses(200, PageOf(AccountRecord)),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listAllAccounts(ctx, { limit: request.query.limit ?? 20, cursor: request.query.cursor }),
        ),
    );

    app.get(
      '/accounts/:id',
      {
        schema: {
          tags: ['Admin'],
          summary: 'One account',
          params: IdParams,
          response: responses(200, AccountRecord),
        },
      },
      async (request) => ok(request.id, await getAccount(ctx, request.params.id)),
    );

    app.post(
      '/apps',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Create an app with its OTP policy',
          body: Type.Object(
            {
              account_id: Type.String({ maxLength: 64 }),
              name: Name,
              environment: Environment,
              ...PolicyFields,
            },
            { additionalProperties: false },
          ),
          response: responses(201, AppRecord),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await createApp(ctx, request.body as never))),
    );

    app.get(
      '/apps',
      {
        schema: {
          tags: ['Admin'],
          summary: 'List apps',
          querystring: Type.Object(
            { account_id: Type.Optional(Type.String({ maxLength: 64 })), ...PageQuery },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(AppRecord)),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listAllApps(ctx, {
            limit: request.query.limit ?? 20,
            cursor: request.query.cursor,
            account_id: request.query.account_id,
          }),
        ),
    );

    app.get(
      '/apps/:id',
      {
        schema: {
          tags: ['Admin'],
          summary: 'One app',
          params: IdParams,
          response: responses(200, AppRecord),
        },
      },
      async (request) => ok(request.id, await getApp(ctx, request.params.id)),
    );

    app.patch(
      '/apps/:id',
      {
        schema: {
          tags: ['Admin'],
          summary: "Change an app's name, environment or policy",
          params: IdParams,
          body: Type.Object(
            { name: Type.Optional(Name), environment: Type.Optional(Environment), ...PolicyFields },
            { additionalProperties: false },
          ),
          response: responses(200, AppRecord),
        },
      },
      async (request) => ok(request.id, await changeApp(ctx, request.params.id, request.body as never)),
    );

    app.post(
      '/apps/:id/keys',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Create an API key (the secret is shown once)',
          params: IdParams,
          response: responses(201, Type.Composite([KeyRecord, Type.Object({ secret: Type.String() })])),
        },
      },
      async (request, reply) => reply.code(201).send(ok(request.id, await createKey(ctx, request.params.id))),
    );

    app.get(
      '/apps/:id/keys',
      {
        schema: {
          tags: ['Admin'],
          summary: "An app's keys (never the secrets)",
          params: IdParams,
          response: responses(200, Type.Object({ items: Type.Array(KeyRecord), next_cursor: Type.Null() })),
        },
      },
      async (request) => {
        await getApp(ctx, request.params.id);
        return ok(request.id, { items: await listKeys(ctx, request.params.id), next_cursor: null });
      },
    );

    app.delete(
      '/keys/:id',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Revoke a key, at once on every process',
          params: IdParams,
          response: responses(200, KeyRecord),
        },
      },
      async (request) => ok(request.id, await revokeKey(ctx, request.params.id)),
    );
  };
