import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { OtpdError } from '../../core/errors.js';
import { parsePhone } from '../../core/phone.js';
import { readInbox } from '../../delivery/inbox.js';
import { isAdminToken } from '../../tenancy/init.js';
import { authenticate } from '../../tenancy/keys.js';
import { credentialOf } from '../auth.js';
import { ok, responses } from '../envelope.js';
import { InboxItem } from './admin/inbox.js';

/**
 * The dev inbox: a page that shows each phone's messages as they arrive.
 * It reads them with the credential pasted into it (kept in the browser's
 * session storage): an API key shows that app's messages, the operator
 * token every app's.
 */
export const inboxPage =
  (ctx: Context, adminToken: string | undefined): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get('/inbox', { schema: { hide: true } }, async (_request, reply) =>
      reply.type('text/html; charset=utf-8').send(PAGE),
    );

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
        const credential = credentialOf(request);
        if (!credential) throw new OtpdError('INVALID_API_KEY', 'Send an API key or the operator token.');
        const appId = (await isAdminToken(ctx, credential, adminToken))
          ? undefined
          : (await authenticate(ctx, credential)).app.id;
        const phone = request.query.phone === undefined ? undefined : parsePhone(request.query.phone).e164;
        return ok(request.id, { items: await readInbox(ctx, { phone, appId, limit: 100 }) });
      },
    );
  };

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>otpd inbox</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
header h1{font-size:18px;margin:0 16px 0 0}
input,button{font:inherit;padding:6px 10px;border-radius:6px;border:1px solid #c8ccd4}
button{background:#3b6cf6;color:#fff;border:0;cursor:pointer}
main{max-width:900px;margin:20px auto;padding:0 16px}
.phone{background:#fff;border-radius:10px;margin-bottom:16px;box-shadow:0 1px 3px #0002}
.phone h2{font-size:15px;margin:0;padding:10px 14px;border-bottom:1px solid #eee}
.msg{padding:10px 14px;border-bottom:1px solid #f0f0f0}
.msg:last-child{border:0}
.meta{color:#667;font-size:12px}
.empty{color:#667;text-align:center;padding:40px}
.live{color:#b54708;font-weight:600}
</style></head><body>
<header><h1>otpd inbox</h1>
<input id="phone" placeholder="Filter by phone (+977…)" size="22">
<input id="token" type="password" placeholder="Your API key (otpd_test_…) or the operator token" size="40">
<button id="save">Show</button></header>
<main id="list"><p class="empty">Loading…</p></main>
<script>
const $ = (id) => document.getElementById(id);
$('token').value = sessionStorage.getItem('otpd_admin_token') || '';
$('save').onclick = () => { sessionStorage.setItem('otpd_admin_token', $('token').value.trim()); load(); };
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
async function load() {
  const token = sessionStorage.getItem('otpd_admin_token');
  const phone = $('phone').value.trim();
  const q = phone ? '?phone=' + encodeURIComponent(phone) : '';
  if (!token) {
    $('list').innerHTML = '<p class="empty">Paste an API key (an otpd_test_… key shows the messages of its app) or the operator token (every app), then Show.</p>';
    return;
  }
  const res = await fetch('/inbox/messages' + q, { headers: { authorization: 'Bearer ' + token } });
  const body = await res.json().catch(() => null);
  if (!body || !body.success) {
    $('list').innerHTML = '<p class="empty">' + esc(body ? body.error.message : 'otpd is not answering') + '</p>';
    return;
  }
  const byPhone = new Map();
  for (const m of body.data.items) { if (!byPhone.has(m.phone)) byPhone.set(m.phone, []); byPhone.get(m.phone).push(m); }
  $('list').innerHTML = byPhone.size === 0
    ? '<p class="empty">No messages yet. Send a code and it appears here.</p>'
    : [...byPhone].map(([p, ms]) => '<section class="phone"><h2>' + esc(p) + '</h2>' + ms.map((m) =>
        '<div class="msg"><div>' + esc(m.text) + '</div><div class="meta">' + esc(m.channel) +
        (m.environment === 'live' ? ' · <span class="live">live</span>' : ' · sandbox') +
        (m.sender_id ? ' · from ' + esc(m.sender_id) : '') + ' · ' + new Date(m.created_at).toLocaleString() +
        '</div></div>').join('') + '</section>').join('');
}
load(); setInterval(load, 2000);
</script></body></html>`;
