import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { OtpdError } from '../../../core/errors.js';
import type { DashboardContext } from '../../../dashboard/context.js';
import { dashboardError } from '../../../dashboard/errors.js';
import { endSession, startSession } from '../../../dashboard/sessions.js';
import {
  beginTwoFactor,
  completeLogin,
  disableTwoFactor,
  enableTwoFactor,
  recoveryCodesLeft,
  regenerateRecoveryCodes,
} from '../../../dashboard/two-factor.js';
import {
  changePassword,
  checkCredentials,
  requestPasswordReset,
  resendVerification,
  resetPassword,
  signUp,
  toDashboardUser,
  verifyEmail,
} from '../../../dashboard/users.js';
import { isAdminToken } from '../../../tenancy/init.js';
import { Nullable, Ok, ok } from '../../envelope.js';
import { Timestamp } from '../../schemas.js';
import { clearSessionCookie, ensureCsrfCookie, setSessionCookies } from './session.js';

export const Email = Type.String({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 1, maxLength: 1000 });
const LinkToken = Type.String({ minLength: 20, maxLength: 100 });
const Code = Type.String({ minLength: 1, maxLength: 20 });

export const DashboardUser = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Type.Union([Type.Literal('tenant'), Type.Literal('operator')]),
  account_id: Nullable(Type.String()),
  email_verified: Type.Boolean(),
  two_factor: Type.Boolean(),
  created_at: Timestamp,
});

const SessionState = Type.Object({
  user: Nullable(DashboardUser),
  second_factor_required: Type.Boolean(),
  csrf_token: Type.String(),
});

const SecondFactor = {
  code: Type.Optional(Code),
  recovery_code: Type.Optional(Code),
};

const Accepted = Type.Object({ email: Type.String() });
const body = <T extends Parameters<typeof Type.Object>[0]>(fields: T) =>
  Type.Object(fields, { additionalProperties: false });

/** Where mailed links point: OTPD_PUBLIC_URL, or (local mail only) the address this request came to. */
const linkBase = (ctx: DashboardContext, request: FastifyRequest) =>
  ctx.dashboard.config.publicUrl ?? `${request.protocol}://${request.host}`;

const clientMeta = (request: FastifyRequest) => ({
  ip: request.ip,
  userAgent: request.headers['user-agent'],
});

/** Sign-up, email verification, login with its second factor, logout, passwords and two-factor setup. */
export const dashboardAuthRoutes =
  (ctx: DashboardContext, adminToken: string | undefined): FastifyPluginAsyncTypebox =>
  async (app) => {
    const state = (request: FastifyRequest, csrf: string) => {
      const session = request.dashboardSession;
      return {
        user: session ? toDashboardUser(session.user) : null,
        second_factor_required: session ? !session.secondFactorDone : false,
        csrf_token: csrf,
      };
    };

    app.get(
      '/session',
      { config: { access: 'public' }, schema: { hide: true, response: { 200: Ok(SessionState) } } },
      async (request, reply) => ok(request.id, state(request, ensureCsrfCookie(ctx, request, reply))),
    );

    app.post(
      '/signup',
      {
        config: { access: 'public' },
        schema: {
          hide: true,
          body: body({
            email: Email,
            password: Password,
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            operator_token: Type.Optional(Type.String({ maxLength: 200 })),
          }),
          response: { 201: Ok(Accepted) },
        },
      },
      async (request, reply) => {
        const { operator_token, ...input } = request.body;
        let role: 'tenant' | 'operator' = 'tenant';
        if (operator_token !== undefined) {
          if (!(await isAdminToken(ctx, operator_token, adminToken)))
            throw new OtpdError('INVALID_ADMIN_TOKEN');
          role = 'operator';
        } else if (!ctx.dashboard.config.signup) {
          throw dashboardError('SIGNUP_CLOSED');
        }
        const result = await signUp(ctx, { ...input, role, ip: request.ip }, linkBase(ctx, request));
        return reply.code(201).send(ok(request.id, result));
      },
    );

    app.post(
      '/verify-email',
      {
        config: { access: 'public' },
        schema: { hide: true, body: body({ token: LinkToken }), response: { 200: Ok(DashboardUser) } },
      },
      async (request) => ok(request.id, await verifyEmail(ctx, request.body.token)),
    );

    app.post(
      '/verify-email/resend',
      {
        config: { access: 'public' },
        schema: { hide: true, body: body({ email: Email }), response: { 200: Ok(Accepted) } },
      },
      async (request) =>
        ok(request.id, await resendVerification(ctx, request.body.email, linkBase(ctx, request))),
    );

    app.post(
      '/login',
      {
        config: { access: 'public' },
        schema: {
          hide: true,
          body: body({ email: Email, password: Password }),
          response: { 200: Ok(SessionState) },
        },
      },
      async (request, reply) => {
        const user = await checkCredentials(ctx, { ...request.body, ip: request.ip });
        // A login replaces whatever session this browser had.
        if (request.dashboardSession) await endSession(ctx, request.dashboardSession.id);
        const started = await startSession(ctx, ctx.store.db, user, clientMeta(request));
        request.dashboardSession = started.session;
        return ok(request.id, state(request, setSessionCookies(ctx, request, reply, started)));
      },
    );

    app.post(
      '/login/second-factor',
      {
        config: { access: 'session' },
        schema: { hide: true, body: body(SecondFactor), response: { 200: Ok(SessionState) } },
      },
      async (request, reply) => {
        const session = request.dashboardSession!;
        if (session.secondFactorDone)
          return ok(request.id, state(request, ensureCsrfCookie(ctx, request, reply)));
        const started = await completeLogin(ctx, session, request.body, clientMeta(request));
        request.dashboardSession = started.session;
        return ok(request.id, state(request, setSessionCookies(ctx, request, reply, started)));
      },
    );

    app.post(
      '/logout',
      { config: { access: 'public' }, schema: { hide: true, response: { 200: Ok(SessionState) } } },
      async (request, reply) => {
        if (request.dashboardSession) await endSession(ctx, request.dashboardSession.id);
        request.dashboardSession = undefined;
        clearSessionCookie(ctx, request, reply);
        return ok(request.id, state(request, ensureCsrfCookie(ctx, request, reply)));
      },
    );

    app.post(
      '/password/forgot',
      {
        config: { access: 'public' },
        schema: { hide: true, body: body({ email: Email }), response: { 200: Ok(Accepted) } },
      },
      async (request) =>
        ok(request.id, await requestPasswordReset(ctx, request.body.email, linkBase(ctx, request))),
    );

    app.post(
      '/password/reset',
      {
        config: { access: 'public' },
        schema: {
          hide: true,
          body: body({ token: LinkToken, password: Password }),
          response: { 200: Ok(Accepted) },
        },
      },
      async (request) => ok(request.id, await resetPassword(ctx, request.body.token, request.body.password)),
    );

    app.post(
      '/password/change',
      {
        config: { access: 'user' },
        schema: {
          hide: true,
          body: body({ current_password: Password, new_password: Password }),
          response: { 200: Ok(DashboardUser) },
        },
      },
      async (request) => {
        const session = request.dashboardSession!;
        await changePassword(ctx, session.user, session.id, request.body);
        return ok(request.id, toDashboardUser(session.user));
      },
    );

    app.get(
      '/two-factor',
      {
        config: { access: 'user' },
        schema: {
          hide: true,
          response: {
            200: Ok(Type.Object({ enabled: Type.Boolean(), recovery_codes_left: Type.Integer() })),
          },
        },
      },
      async (request) => {
        const { user } = request.dashboardSession!;
        return ok(request.id, {
          enabled: user.totp_enabled_at !== null,
          recovery_codes_left: await recoveryCodesLeft(ctx, user.id),
        });
      },
    );

    app.post(
      '/two-factor/setup',
      {
        config: { access: 'user' },
        schema: {
          hide: true,
          response: { 200: Ok(Type.Object({ secret: Type.String(), otpauth_url: Type.String() })) },
        },
      },
      async (request) => ok(request.id, await beginTwoFactor(ctx, request.dashboardSession!.user)),
    );

    const RecoveryCodes = Type.Object({ recovery_codes: Type.Array(Type.String()) });

    app.post(
      '/two-factor/enable',
      {
        config: { access: 'user' },
        schema: { hide: true, body: body({ code: Code }), response: { 200: Ok(RecoveryCodes) } },
      },
      async (request) =>
        ok(request.id, await enableTwoFactor(ctx, request.dashboardSession!.user, request.body.code)),
    );

    app.post(
      '/two-factor/disable',
      {
        config: { access: 'user' },
        schema: {
          hide: true,
          body: body({ password: Password, ...SecondFactor }),
          response: { 200: Ok(Type.Object({ enabled: Type.Boolean() })) },
        },
      },
      async (request) => {
        await disableTwoFactor(ctx, request.dashboardSession!.user, request.body);
        return ok(request.id, { enabled: false });
      },
    );

    app.post(
      '/two-factor/recovery-codes',
      {
        config: { access: 'user' },
        schema: { hide: true, body: body(SecondFactor), response: { 200: Ok(RecoveryCodes) } },
      },
      async (request) =>
        ok(request.id, await regenerateRecoveryCodes(ctx, request.dashboardSession!.user, request.body)),
    );
  };
