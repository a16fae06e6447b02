import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The dashboard's front end (web/, built into dist/web by `npm run build:web`):
 * hashed assets under /assets/ cached for good, and one HTML shell for every
 * page the browser router knows.
 */

/** dist/web from the built server (dist/http/routes/dashboard) or from the sources (src/…, under vitest or tsx). */
function webRoot(): string | undefined {
  for (const relative of ['../../../web/', '../../../../dist/web/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${dir}manifest.json`)) return dir;
  }
  return undefined;
}

/** Marks the page as scripted before paint (the no-script notice hides); its hash is in the CSP. */
const BOOT = "document.documentElement.className='js'";
const BOOT_HASH = createHash('sha256').update(BOOT).digest('base64');

export const SECURITY_HEADERS = {
  'content-security-policy': [
    "default-src 'self'",
    `script-src 'self' 'sha256-${BOOT_HASH}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-cache',
};

/** The pages of the front end; each answers the same shell, titled for it. */
const PAGES: Record<string, string> = {
  '/': 'otpd dashboard',
  '/login': 'Log in · otpd',
  '/signup': 'Sign up · otpd',
  '/verify-email': 'Verify your email · otpd',
  '/forgot-password': 'Reset your password · otpd',
  '/reset-password': 'Choose a new password · otpd',
  '/apps': 'Apps · otpd',
  '/apps/*': 'App · otpd',
  '/otps': 'OTP explorer · otpd',
  '/settings': 'Settings · otpd',
  '/inbox': 'otpd inbox',
  '/demo': 'otpd demo',
  '/templates': 'Templates · otpd',
  '/webhooks': 'Webhooks · otpd',
  '/billing': 'Balance · otpd',
  '/usage': 'Usage · otpd',
  '/console': 'Console · otpd',
  '/console/*': 'Console · otpd',
};

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function shell(title: string, assets: { script: string; css: string } | undefined): string {
  const head = assets
    ? `<link rel="stylesheet" href="/assets/${assets.css}">\n<script type="module" src="/assets/${assets.script}"></script>`
    : '';
  const notice = assets
    ? 'otpd’s dashboard needs JavaScript. The API works without it: see <a href="/docs">/docs</a>.'
    : 'The dashboard is not built: run <code>npm run build:web</code> (part of <code>npm run build</code>). The API works: see <a href="/docs">/docs</a>.';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark"><link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
${head}
</head><body><div id="app"></div><div class="noscript"><p>${notice}</p></div>
<script>${BOOT}</script>
</body></html>`;
}

export async function registerPages(app: FastifyInstance): Promise<void> {
  const root = webRoot();
  const assets = root
    ? (JSON.parse(readFileSync(`${root}manifest.json`, 'utf8')) as { script: string; css: string })
    : undefined;
  if (root) {
    await app.register(fastifyStatic, {
      root: `${root}assets`,
      prefix: '/assets/',
      index: false,
      // Names carry their content's hash: a new build has new names.
      immutable: true,
      maxAge: '365d',
      setHeaders: (res) => res.header('x-content-type-options', 'nosniff'),
    });
  }
  const pages = new Map(Object.entries(PAGES).map(([path, title]) => [path, shell(title, assets)]));
  const send = (reply: FastifyReply, html: string) =>
    reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(html);
  for (const [path, html] of pages) {
    app.get(path, { schema: { hide: true } }, async (_request, reply) => send(reply, html));
  }
}
