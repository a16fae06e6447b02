import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { type Static, type TObject, Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config.js';
import { CHANNELS } from '../core/policy.js';

/**
 * The delivery configuration (`OTPD_CONFIG`, JSON or YAML): providers, the
 * routes that choose them, and the USSD gateway. Validated at start; an error
 * names the key (`providers.smsc.port: must be integer`). Any string value may
 * be `env:NAME`, read from the environment.
 */

const ChannelName = Type.Union(CHANNELS.map((c) => Type.Literal(c)));

/** Settings every provider type accepts, besides its own. */
export const commonSettings = {
  type: Type.String(),
  /** Messages per second this provider may take (per bind for SMPP). */
  throughput: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100_000 })),
  /** Seconds to wait for the provider's answer before the outcome is unknown. */
  timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 300, default: 10 })),
  /** Restricts the channels this provider is used for. */
  channels: Type.Optional(Type.Array(ChannelName, { minItems: 1, uniqueItems: true })),
  /**
   * Whether the provider reports every accepted message promptly, so that no
   * news after `reconcile_after` means it never got one (see provider.ts
   * `receipts`); each provider type has its own default.
   */
  resend_after_silence: Type.Optional(Type.Boolean()),
};

export const RouteSpec = Type.Object(
  {
    /** Matches messages of this channel; any channel when absent. */
    channel: Type.Optional(ChannelName),
    /** ISO 3166 countries of the recipient. */
    countries: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z]{2}$' }), { minItems: 1 })),
    /** E.164 prefixes of the recipient, digits only or with `+` (`+97798`). */
    prefixes: Type.Optional(Type.Array(Type.String({ pattern: '^\\+?[0-9]{1,15}$' }), { minItems: 1 })),
    /** Providers tried in order: the next one takes over when one fails. */
    providers: Type.Array(Type.String(), { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type RouteSpec = Static<typeof RouteSpec>;

export const UssdSpec = Type.Object(
  {
    /** Shared secret the gateway sends (`X-Ussd-Secret` header or `secret` query parameter). */
    secret: Type.Optional(Type.String({ minLength: 16 })),
    /** Addresses the gateway calls from (exact IPs). */
    allowed_ips: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    /** The dialled service code (`*384*123#`); others are refused. */
    service_code: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type UssdSpec = Static<typeof UssdSpec>;

const DeliverySpec = Type.Object(
  {
    /** The URL providers reach otpd at, for status callbacks (`https://otpd.example.com`). */
    public_url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
    /** Seconds an unknown outcome waits for a receipt before the next provider takes the message. */
    reconcile_after: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, default: 60 })),
    /**
     * Seconds a worker holds a claimed message; after a crash, its messages
     * wait this long before another worker looks at them. Longer than every
     * provider's timeout.
     */
    lease: Type.Optional(Type.Integer({ minimum: 2, maximum: 600, default: 30 })),
    providers: Type.Record(
      Type.String(),
      Type.Object({ type: Type.String() }, { additionalProperties: true }),
      { default: {} },
    ),
    routes: Type.Optional(Type.Array(RouteSpec, { default: [] })),
    ussd: Type.Optional(UssdSpec),
  },
  { additionalProperties: false },
);

export interface ProviderSettings {
  type: string;
  throughput?: number;
  timeout?: number;
  channels?: (typeof CHANNELS)[number][];
  resend_after_silence?: boolean;
  [key: string]: unknown;
}

export interface DeliveryConfig {
  public_url: string | null;
  reconcile_after: number;
  lease: number;
  providers: Record<string, ProviderSettings>;
  routes: RouteSpec[];
  ussd: UssdSpec | null;
}

export const EMPTY_DELIVERY: DeliveryConfig = {
  public_url: null,
  reconcile_after: 60,
  lease: 30,
  providers: {},
  routes: [],
  ussd: null,
};

/** Settings come from files and the environment: numbers may arrive as text. */
const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: false, strict: false });
addFormats.default(ajv);
const checkTop = ajv.compile(DeliverySpec);
const providerCheckers = new WeakMap<TObject, ReturnType<typeof ajv.compile>>();

/** Provider names appear in URLs (`/callbacks/<name>`) and metrics labels. */
const PROVIDER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

function where(prefix: string, error: ErrorObject): string {
  const path = error.instancePath.split('/').filter(Boolean).join('.');
  const key =
    error.keyword === 'additionalProperties'
      ? [prefix, path, (error.params as { additionalProperty: string }).additionalProperty]
      : error.keyword === 'required'
        ? [prefix, path, (error.params as { missingProperty: string }).missingProperty]
        : [prefix, path];
  const name = key.filter(Boolean).join('.') || '(top level)';
  const message =
    error.keyword === 'additionalProperties'
      ? 'is not a known setting'
      : error.keyword === 'required'
        ? 'is required'
        : error.message;
  return `${name} ${message}`;
}

/** Replaces every `env:NAME` string by the variable's value. */
function resolveEnv(value: unknown, path: string, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') {
    const match = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
    if (!match) return value;
    const found = env[match[1]!];
    if (found === undefined) {
      throw new ConfigError(`${path || '(top level)'}: environment variable ${match[1]} is not set.`);
    }
    return found;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, `${path}.${i}`, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveEnv(v, path ? `${path}.${k}` : k, env)]),
    );
  }
  return value;
}

/**
 * Checks a parsed configuration. `schemas` gives each provider type's
 * settings schema (see registry.ts); `inbox` is always available.
 */
export function checkDeliveryConfig(
  raw: unknown,
  schemas: Record<string, TObject>,
  env: Record<string, string | undefined> = process.env,
): DeliveryConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('The delivery configuration must be an object with "providers" and "routes".');
  }
  const value = resolveEnv(raw, '', env) as Record<string, unknown>;
  if (!checkTop(value)) throw new ConfigError(where('', checkTop.errors![0]!));
  const spec = value as unknown as Static<typeof DeliverySpec>;

  const providers: Record<string, ProviderSettings> = {};
  for (const [name, settings] of Object.entries(spec.providers)) {
    if (!PROVIDER_NAME.test(name)) {
      throw new ConfigError(
        `providers.${name}: a provider name is lowercase letters, digits, - and _ (at most 32), starting with a letter.`,
      );
    }
    if (name === 'inbox')
      throw new ConfigError('providers.inbox: "inbox" is the built-in provider; pick another name.');
    const schema = schemas[settings.type];
    if (!schema) {
      throw new ConfigError(
        `providers.${name}.type must be one of ${Object.keys(schemas).join(', ')}, not "${settings.type}".`,
      );
    }
    let check = providerCheckers.get(schema);
    if (!check) {
      check = ajv.compile(schema);
      providerCheckers.set(schema, check);
    }
    if (!check(settings)) throw new ConfigError(where(`providers.${name}`, check.errors![0]!));
    providers[name] = settings as ProviderSettings;
  }

  const routes = spec.routes ?? [];
  routes.forEach((route, i) => {
    for (const name of route.providers) {
      if (name !== 'inbox' && !providers[name]) {
        throw new ConfigError(`routes.${i}.providers: no provider named "${name}".`);
      }
      const channels = providers[name]?.channels;
      if (route.channel && channels && !channels.includes(route.channel)) {
        throw new ConfigError(
          `routes.${i}.providers: provider "${name}" does not serve channel ${route.channel}.`,
        );
      }
    }
  });
  const lease = spec.lease ?? 30;
  for (const [name, settings] of Object.entries(providers)) {
    if ((settings.timeout ?? 10) + 2 >= lease) {
      throw new ConfigError(
        `providers.${name}.timeout must be under lease − 2 s (${lease} s): a claim must outlive the provider's answer.`,
      );
    }
  }
  if (spec.ussd && !spec.ussd.secret && !spec.ussd.allowed_ips) {
    throw new ConfigError(
      'ussd: set secret or allowed_ips (or both): an open USSD endpoint would show codes to anyone who reaches it.',
    );
  }
  if (Object.keys(providers).length > 0 && routes.length === 0) {
    throw new ConfigError('routes: providers are configured but no route uses them.');
  }
  return {
    public_url: spec.public_url?.replace(/\/+$/, '') ?? null,
    reconcile_after: spec.reconcile_after ?? 60,
    lease,
    providers,
    routes,
    ussd: spec.ussd ?? null,
  };
}

/** Reads and checks the file OTPD_CONFIG names (`.json`, `.yaml` or `.yml`). */
export function loadDeliveryConfig(
  file: string,
  schemas: Record<string, TObject>,
  env: Record<string, string | undefined> = process.env,
): DeliveryConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`OTPD_CONFIG: cannot read ${file} (${(error as NodeJS.ErrnoException).code}).`);
  }
  let raw: unknown;
  try {
    raw = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(
      `OTPD_CONFIG: ${file} is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  try {
    return checkDeliveryConfig(raw, schemas, env);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`OTPD_CONFIG ${file}: ${error.message}`);
    throw error;
  }
}
