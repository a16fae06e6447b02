import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { checkDeliveryConfig, commonSettings, loadDeliveryConfig } from '../../src/delivery/config.js';
import type { Provider } from '../../src/delivery/provider.js';
import { Router } from '../../src/delivery/router.js';
import { Throttle } from '../../src/delivery/throttle.js';

const schemas = {
  smpp: Type.Object(
    {
      ...commonSettings,
      host: Type.String(),
      port: Type.Integer({ default: 2775 }),
      password: Type.String(),
    },
    { additionalProperties: false },
  ),
  twilio: Type.Object({ ...commonSettings, account_sid: Type.String() }, { additionalProperties: false }),
};

const good = {
  public_url: 'https://otpd.example.com/',
  providers: {
    smsc: { type: 'smpp', host: '10.0.0.5', password: 'env:SMSC_PASSWORD', throughput: 100 },
    twilio: { type: 'twilio', account_sid: 'AC1', channels: ['sms', 'voice'] },
  },
  routes: [
    { channel: 'sms', countries: ['NP'], providers: ['smsc', 'twilio'] },
    { channel: 'voice', providers: ['twilio'] },
    { prefixes: ['+1555'], providers: ['inbox'] },
    { channel: 'sms', providers: ['twilio'] },
  ],
};

const env = { SMSC_PASSWORD: 's3cret', SMSC_PORT: '2776' };
const fails = (raw: unknown, message: RegExp) => {
  expect(() => checkDeliveryConfig(raw, schemas, env)).toThrow(ConfigError);
  expect(() => checkDeliveryConfig(raw, schemas, env)).toThrow(message);
};

describe('the delivery configuration', () => {
  it('reads providers and routes, env: references and defaults', () => {
    const config = checkDeliveryConfig(good, schemas, env);
    expect(config.public_url).toBe('https://otpd.example.com');
    expect(config.reconcile_after).toBe(60);
    expect(config.lease).toBe(30);
    expect(config.providers.smsc).toMatchObject({ password: 's3cret', port: 2775, timeout: 10 });
    expect(config.routes).toHaveLength(4);
    expect(config.ussd).toBeNull();
  });

  it('takes numbers from the environment as numbers', () => {
    const raw = structuredClone(good) as typeof good & { providers: { smsc: Record<string, unknown> } };
    raw.providers.smsc.port = 'env:SMSC_PORT';
    expect(checkDeliveryConfig(raw, schemas, env).providers.smsc!.port).toBe(2776);
  });

  it('names the bad key in every error', () => {
    fails(
      { ...good, providers: { ...good.providers, smsc: { ...good.providers.smsc, port: 'x' } } },
      /providers\.smsc\.port must be integer/,
    );
    fails(
      { ...good, providers: { ...good.providers, smsc: { ...good.providers.smsc, colour: 1 } } },
      /providers\.smsc\.colour is not a known setting/,
    );
    fails(
      { ...good, providers: { ...good.providers, smsc: { type: 'smpp', password: 'x' } } },
      /providers\.smsc\.host is required/,
    );
    fails(
      { ...good, providers: { ...good.providers, fax: { type: 'fax' } } },
      /providers\.fax\.type must be one of smpp, twilio/,
    );
    fails(
      { ...good, providers: { ...good.providers, 'Big Name': { type: 'twilio', account_sid: 'A' } } },
      /providers\.Big Name: a provider name/,
    );
    fails(
      { ...good, providers: { ...good.providers, inbox: { type: 'twilio', account_sid: 'A' } } },
      /providers\.inbox: "inbox" is the built-in/,
    );
    fails({ ...good, routes: [{ providers: ['nope'] }] }, /routes\.0\.providers: no provider named "nope"/);
    fails(
      { ...good, routes: [{ channel: 'whatsapp', providers: ['twilio'] }] },
      /routes\.0\.providers: provider "twilio" does not serve channel whatsapp/,
    );
    fails({ ...good, routes: [{ channel: 'fax', providers: ['twilio'] }] }, /routes\.0\.channel/);
    fails(
      { ...good, routes: [{ countries: ['np'], providers: ['twilio'] }] },
      /routes\.0\.countries\.0 must match/,
    );
    fails({ ...good, routes: [] }, /no route uses them/);
    fails({ ...good, colour: 1 }, /colour is not a known setting/);
    fails({ ...good, public_url: 'ftp://x' }, /public_url must match/);
    fails({ ...good, ussd: { secret: 'short' } }, /ussd\.secret must NOT have fewer than 16 characters/);
    fails({ ...good, ussd: {} }, /ussd: set secret or allowed_ips/);
    fails({ ...good, lease: 12 }, /providers\.smsc\.timeout must be under lease/);
    fails([], /must be an object/);
  });

  it('refuses an env: reference to a variable that is not set, naming the key', () => {
    expect(() => checkDeliveryConfig(good, schemas, {})).toThrow(
      /providers\.smsc\.password: environment variable SMSC_PASSWORD is not set/,
    );
  });

  it('loads JSON and YAML files, with the file in the message of an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otpd-config-'));
    const json = join(dir, 'otpd.json');
    writeFileSync(json, JSON.stringify(good));
    expect(loadDeliveryConfig(json, schemas, env).routes).toHaveLength(4);
    const yaml = join(dir, 'otpd.yaml');
    writeFileSync(
      yaml,
      [
        'providers:',
        '  smsc: {type: smpp, host: 10.0.0.5, password: "env:SMSC_PASSWORD"}',
        'routes:',
        '  - channel: sms',
        '    providers: [smsc]',
      ].join('\n'),
    );
    expect(loadDeliveryConfig(yaml, schemas, env).providers.smsc).toMatchObject({ host: '10.0.0.5' });
    writeFileSync(json, '{"providers": ');
    expect(() => loadDeliveryConfig(json, schemas, env)).toThrow(/is not valid JSON/);
    expect(() => loadDeliveryConfig(join(dir, 'missing.json'), schemas, env)).toThrow(/cannot read .*ENOENT/);
    writeFileSync(json, JSON.stringify({ providers: { x: { type: 'nope' } } }));
    expect(() => loadDeliveryConfig(json, schemas, env)).toThrow(
      /OTPD_CONFIG .*otpd\.json: providers\.x\.type/,
    );
  });
});

describe('the router', () => {
  const provider = (
    name: string,
    channels: Provider['channels'] = ['sms', 'whatsapp', 'voice', 'rcs'],
  ): Provider => ({
    name,
    type: 'test',
    channels,
    send: async () => ({ provider_message_id: null, status: 'sent' }),
  });
  const config = checkDeliveryConfig(good, schemas, env);
  const inbox = provider('inbox');
  const providers = new Map([
    ['smsc', provider('smsc', ['sms'])],
    ['twilio', provider('twilio', ['sms', 'voice'])],
  ]);
  const router = new Router(config.routes, providers, inbox);
  const names = (m: Partial<Parameters<Router['providersFor']>[0]>) =>
    router
      .providersFor({ environment: 'live', channel: 'sms', phone: '+9779841000000', country: 'NP', ...m })
      .map((p) => p.name);

  it('takes the first route that matches channel, country and prefix', () => {
    expect(names({})).toEqual(['smsc', 'twilio']);
    expect(names({ country: 'IN', phone: '+919812345678' })).toEqual(['twilio']);
    expect(names({ channel: 'voice' })).toEqual(['twilio']);
    expect(names({ channel: 'whatsapp', phone: '+15550100', country: 'US' })).toEqual(['inbox']);
    expect(names({ channel: 'whatsapp' })).toEqual([]);
  });

  it('keeps sandbox on the machine, and sends everything to the inbox when nothing is configured', () => {
    expect(names({ environment: 'sandbox' })).toEqual(['inbox']);
    const bare = new Router([], new Map(), inbox);
    expect(bare.configured).toBe(false);
    expect(bare.providersFor({ environment: 'live', channel: 'voice', phone: '+1', country: null })).toEqual([
      inbox,
    ]);
  });
});

describe('the throttle', () => {
  it('lets a burst of one second through, then paces to the rate', async () => {
    let now = 0;
    const throttle = new Throttle(10, () => now);
    for (let i = 0; i < 10; i++) await throttle.take();
    let done = false;
    const next = throttle.take().then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    now += 100;
    await next;
    expect(done).toBe(true);
  });
});
