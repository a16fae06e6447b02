import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from '../../../core/crypto.js';
import type { DashboardContext } from '../../../dashboard/context.js';
import { dashboardError } from '../../../dashboard/errors.js';
import { type ActiveSession, csrfTokenOf, findSession } from '../../../dashboard/sessions.js';

/** Who may call a dashboard route. */
export type Access =
  /** Anyone: sign-up, login, links. */
  | 'public'
  /** Any session, also one that still owes its second factor: completing it, logging out. */
  | 'session'
  /** A full session (second factor given), tenant or operator. */
  | 'user'
  /** A full session of a tenant user: the account's own resources. */
  | 'tenant'
  /** A full session of an operator: the console. */
  | 'operator';

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard session the cookie names, when it is alive. */
    dashboardSession: ActiveSession | undefined;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

export const SESSION_COOKIE = 'otpd_session';
export const CSRF_COOKIE = 'otpd_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function secure(ctx: DashboardContext, request: FastifyRequest): boolean {
  const setting = ctx.dashboard.config.secureCookies;
  if (setting !== 'auto') return setting;
  return request.protocol === 'https' || (ctx.dashboard.config.publicUrl?.startsWith('https:') ?? false);
}

/** Reads the session cookie; a dead or unknown token counts as none. */
export async function loadSession(ctx: DashboardContext, request: FastifyRequest): Promise<void> {
  const token = request.cookies[SESSION_COOKIE];
  request.dashboardSession = token ? await findSession(ctx, token) : undefined;
}

/** Sets the session cookie and its CSRF token: httpOnly, SameSite=Lax, Secure on https. */
export function setSessionCookies(
  ctx: DashboardContext,
  request: FastifyRequest,
  reply: FastifyReply,
  started: { token: string; session: ActiveSession },
): string {
  const base = { path: '/', sameSite: 'lax' as const, secure: secure(ctx, request) };
  reply.setCookie(SESSION_COOKIE, started.token, { ...base, httpOnly: true });
  const csrf = csrfTokenOf(ctx, started.session.id);
  reply.setCookie(CSRF_COOKIE, csrf, base);
  return csrf;
}

export function clearSessionCookie(
  ctx: DashboardContext,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  reply.clearCookie(SESSION_COOKIE, {
    path: '/',
    sameSite: 'lax',
    secure: secure(ctx, request),
    httpOnly: true,
  });
}

/**
 * The CSRF token the page must echo in X-CSRF-Token: the session's HMAC, or
 * before login a random one (plain double submit), kept in a cookie the page
 * can read.
 */
export function ensureCsrfCookie(
  ctx: DashboardContext,
  request: FastifyRequest,
  reply: FastifyReply,
): string {
  const session = request.dashboardSession;
  const current = request.cookies[CSRF_COOKIE];
  const token = session
    ? csrfTokenOf(ctx, session.id)
    : current && current.length >= 22
      ? current
      : randomBytes(24).toString('base64url');
  if (token !== current) {
    reply.setCookie(CSRF_COOKIE, token, { path: '/', sameSite: 'lax', secure: secure(ctx, request) });
  }
  return token;
}

/**
 * Refuses a state-changing request without the right X-CSRF-Token. With a
 * session the header must be the session's HMAC; without one it must equal
 * the CSRF cookie. SameSite=Lax and JSON-only bodies already stop most
 * cross-site posts; this stops the rest.
 */
export function checkCsrf(ctx: DashboardContext, request: FastifyRequest): void {
  if (SAFE_METHODS.has(request.method)) return;
  const header = request.headers[CSRF_HEADER];
  const sent = typeof header === 'string' ? header : undefined;
  const session = request.dashboardSession;
  const expected = session ? csrfTokenOf(ctx, session.id) : request.cookies[CSRF_COOKIE];
  if (!sent || !expected || expected.length < 22 || !safeEqual(sent, expected)) {
    throw dashboardError('CSRF_TOKEN_INVALID');
  }
}

/** Refuses a request its session may not make (see Access). */
export function checkAccess(request: FastifyRequest, access: Access): void {
  if (access === 'public') return;
  const session = request.dashboardSession;
  if (!session) throw dashboardError('SESSION_REQUIRED');
  if (access === 'session') return;
  if (!session.secondFactorDone) throw dashboardError('SECOND_FACTOR_REQUIRED');
  if (access === 'tenant' && (session.user.role !== 'tenant' || !session.user.account_id)) {
    throw dashboardError('FORBIDDEN', 'This is for tenant accounts; operators use the console.');
  }
  if (access === 'operator' && session.user.role !== 'operator') {
    throw dashboardError('FORBIDDEN', 'This is for operators.');
  }
}

/** The account of a tenant session (checked by access 'tenant'). */
export const accountOf = (request: FastifyRequest): string => request.dashboardSession!.user.account_id!;
