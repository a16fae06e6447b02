import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const get = (url: string) => h.server.inject({ method: 'GET', url });

describe('the dashboard front end', () => {
  it('serves the shell at / and at every page of the browser router, with a strict CSP', async () => {
    for (const url of [
      '/',
      '/login',
      '/apps',
      '/apps/app_123',
      '/otps',
      '/settings',
      '/demo',
      '/inbox',
      '/console',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.body).toContain('<div id="app"></div>');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    expect((await get('/inbox')).body).toContain('<title>otpd inbox</title>');
  });

  it('allows exactly its one inline script by hash', async () => {
    const res = await get('/');
    const inline = res.body.match(/<script>([\s\S]*?)<\/script>/)![1]!;
    const hash = createHash('sha256').update(inline).digest('base64');
    expect(String(res.headers['content-security-policy'])).toContain(`'sha256-${hash}'`);
  });

  it('serves the hashed bundle and stylesheet for a year, immutable', async () => {
    const shell = (await get('/')).body;
    const script = shell.match(/src="(\/assets\/[^"]+\.js)"/)![1]!;
    const css = shell.match(/href="(\/assets\/[^"]+\.css)"/)![1]!;
    for (const url of [script, css]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['cache-control']).toContain('immutable');
      expect(res.headers['cache-control']).toContain('max-age=31536000');
    }
    expect((await get(script)).headers['content-type']).toContain('javascript');
    expect((await get('/assets/nope.js')).statusCode).toBe(404);
  });

  it('keeps unknown paths answering 404 in the envelope', async () => {
    const res = await get('/no/such/page');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });
});
