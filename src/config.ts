import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';

/** A bad setting: the message is one line that names it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** `postgres://…`, or the SQLite file to use. */
  databaseUrl: string;
  secret: string;
  /** Where the secret came from; `generated` means written to the data dir just now. */
  secretSource: 'env' | 'file' | 'generated';
  adminToken: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Whether this process runs the delivery worker and sweeper (OTPD_WORKERS). */
  workers: boolean;
  /** Lets webhooks reach private and loopback addresses (development and tests only). */
  webhookAllowPrivate: boolean;
  /** OTPD_WEBHOOK_RETRY_SCHEDULE: seconds between webhook attempts (tests only); undefined = the default. */
  webhookRetrySchedule: number[] | undefined;
  /** The delivery configuration file (OTPD_CONFIG): providers, routes, USSD. */
  deliveryConfigFile: string | undefined;
  /** The dashboard's mail, links, sign-up and cookies. */
  dashboard: DashboardConfig;
  /** OTPD_RETENTION_DAYS: terminal OTPs, messages and log rows older than this are purged (0 = keep all). */
  retentionDays: number;
  /** OTPD_PROCESSES / `serve --processes`: server processes on this machine (`auto` = one per CPU). */
  processes: number;
  /** OTPD_DB_POOL: most PostgreSQL connections a process holds (a CLI command holds 2). */
  dbPoolSize: number;
  /** OTPD_DB_TIMEOUT (seconds): the longest a query waits for a pooled PostgreSQL connection (then 503). */
  dbTimeoutMs: number;
  /** OTPD_DB_STATEMENT_TIMEOUT (seconds): PostgreSQL's statement_timeout for otpd's queries; 0 = none. */
  dbStatementTimeoutMs: number;
  /** OTPD_SHUTDOWN_TIMEOUT (seconds): after SIGTERM, the longest a process drains before it exits anyway. */
  shutdownTimeoutMs: number;
  /** OTPD_TRUST_PROXY: which proxies' X-Forwarded-For to believe (Fastify's `trustProxy`); false = none. */
  trustProxy: TrustProxy;
}

/** `true` (every hop), a hop count, or the proxies' addresses and CIDR ranges. */
export type TrustProxy = boolean | number | string[];

export interface DashboardConfig {
  /** OTPD_SMTP_URL (`smtp://user:pass@host:587`, `smtps://…`): where mail goes; unset = the local outbox on the inbox page. */
  smtpUrl: string | undefined;
  /** OTPD_MAIL_FROM: the From of otpd's mail. */
  mailFrom: string;
  /** OTPD_PUBLIC_URL: the dashboard's address in mailed links; required with SMTP (a Host header must not pick it). */
  publicUrl: string | undefined;
  /** OTPD_SIGNUP: whether anyone may sign up (`open`, the default) or only operators add people (`closed`). */
  signup: boolean;
  /** OTPD_COOKIE_SECURE: `true` marks cookies Secure always; `auto` (default) when the public URL or request is https. */
  secureCookies: 'auto' | boolean;
}

/** Flags given on the command line override the environment. */
export interface ConfigFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  databaseUrl?: string;
  processes?: string;
}

type Env = Record<string, string | undefined>;

function parsePort(value: string, name: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 0 || port > 65535) {
    throw new ConfigError(`${name} must be a port number 0–65535, not "${value}".`);
  }
  return port;
}

function parseBool(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(`${name} must be true or false, not "${value}".`);
}

/**
 * OTPD_WEBHOOK_RETRY_SCHEDULE: the waits between webhook attempts, in
 * seconds, comma-separated (`1,2,5`). For tests that cannot wait the real
 * schedule (5 s, 5 min, … 24 h); undefined when unset.
 */
export function webhookRetrySchedule(env: Env): number[] | undefined {
  const value = env.OTPD_WEBHOOK_RETRY_SCHEDULE;
  if (value === undefined || value.trim() === '') return undefined;
  const waits = value.split(',').map((s) => s.trim());
  if (waits.length > 20 || !waits.every((w) => /^\d{1,6}$/.test(w))) {
    throw new ConfigError(
      `OTPD_WEBHOOK_RETRY_SCHEDULE must be up to 20 comma-separated whole seconds (e.g. "1,2,5"), not "${value}".`,
    );
  }
  return waits.map(Number);
}

/** The dashboard's settings, from OTPD_SMTP_URL, OTPD_MAIL_FROM, OTPD_PUBLIC_URL, OTPD_SIGNUP, OTPD_COOKIE_SECURE. */
export function dashboardConfig(env: Env): DashboardConfig {
  const smtpUrl = env.OTPD_SMTP_URL || undefined;
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^/\s]+/.test(smtpUrl)) {
    throw new ConfigError('OTPD_SMTP_URL must be smtp://[user:password@]host[:port] or smtps://….');
  }
  const publicUrl = env.OTPD_PUBLIC_URL ? env.OTPD_PUBLIC_URL.replace(/\/+$/, '') : undefined;
  if (publicUrl !== undefined && !/^https?:\/\/[^/\s]+(\/\S*)?$/.test(publicUrl)) {
    throw new ConfigError(`OTPD_PUBLIC_URL must be an http(s) URL, not "${publicUrl}".`);
  }
  if (smtpUrl !== undefined && publicUrl === undefined) {
    throw new ConfigError(
      'OTPD_PUBLIC_URL is required with OTPD_SMTP_URL: mailed links must not take their host from a request.',
    );
  }
  const signup = env.OTPD_SIGNUP ?? 'open';
  if (signup !== 'open' && signup !== 'closed') {
    throw new ConfigError(`OTPD_SIGNUP must be open or closed, not "${signup}".`);
  }
  const secure = env.OTPD_COOKIE_SECURE ?? 'auto';
  return {
    smtpUrl,
    mailFrom: env.OTPD_MAIL_FROM || 'otpd <no-reply@localhost>',
    publicUrl,
    signup: signup === 'open',
    secureCookies: secure === 'auto' ? 'auto' : parseBool(secure, 'OTPD_COOKIE_SECURE', false),
  };
}

/** OTPD_PROCESSES: a count 1–256, or `auto` for one per CPU. */
export function parseProcesses(value: string | undefined, name = 'OTPD_PROCESSES'): number {
  if (value === undefined || value === '') return 1;
  if (value === 'auto') return availableParallelism();
  if (!/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > 256) {
    throw new ConfigError(`${name} must be a number of processes 1–256 or auto, not "${value}".`);
  }
  return Number(value);
}

/** OTPD_TRUST_PROXY: off by default; `true`, a hop count, or comma-separated addresses and CIDRs. */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  if (value === undefined || value.trim() === '' || /^(0|false|no|off)$/i.test(value)) return false;
  if (/^(true|yes|on)$/i.test(value)) return true;
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const entries = value.split(',').map((s) => s.trim());
  const valid = (entry: string) => {
    const [address, bits, extra] = entry.split('/');
    if (extra !== undefined || !address) return false;
    const family = isIP(address);
    if (family === 0) return false;
    if (bits === undefined) return true;
    return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
  };
  const bad = entries.find((e) => !valid(e));
  if (bad !== undefined) {
    throw new ConfigError(
      `OTPD_TRUST_PROXY must be true, a hop count or comma-separated addresses/CIDRs (10.0.0.0/8,::1), not "${bad}".`,
    );
  }
  return entries;
}

/** A whole number of `unit` within bounds, or the fallback when unset. */
function parseWhole(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
  unit: string,
): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,6}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(`${name} must be a whole number of ${unit} ${min}–${max}, not "${value}".`);
  }
  return Number(value);
}

/** Resolves the database setting to a Postgres URL or a SQLite file path. */
function resolveDatabase(value: string | undefined, dataDir: string): string {
  if (!value) return join(dataDir, 'otpd.db');
  if (/^postgres(ql)?:\/\/.+/.test(value)) return value;
  if (value === ':memory:') return value;
  const file = value.replace(/^sqlite:(\/\/)?/, '').replace(/^file:/, '');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !value.startsWith('sqlite:')) {
    throw new ConfigError(
      `DATABASE_URL must be postgres://… or a SQLite file (sqlite:path), not "${value.split('://')[0]}://…".`,
    );
  }
  return resolve(file);
}

/** Reads OTPD_SECRET, or the secret persisted in the data dir, or makes one there (mode 0600). */
function resolveSecret(env: Env, dataDir: string): { secret: string; source: Config['secretSource'] } {
  const fromEnv = env.OTPD_SECRET;
  if (fromEnv !== undefined) {
    if (fromEnv.length < 32) throw new ConfigError('OTPD_SECRET must be at least 32 characters long.');
    return { secret: fromEnv, source: 'env' };
  }
  const file = join(dataDir, 'secret');
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length < 32) throw new ConfigError(`${file} holds a secret shorter than 32 characters.`);
    return { secret, source: 'file' };
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  // 'wx' fails if another process wrote it first; then use theirs.
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch {
    return { secret: readFileSync(file, 'utf8').trim(), source: 'file' };
  }
  return { secret, source: 'generated' };
}

export function loadConfig(env: Env = process.env, flags: ConfigFlags = {}): Config {
  const dataDir = resolve(flags.dataDir ?? env.OTPD_DATA_DIR ?? './data');
  const logLevel = (env.LOG_LEVEL ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${env.LOG_LEVEL}".`);
  }
  const adminToken = env.OTPD_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 24) {
    throw new ConfigError('OTPD_ADMIN_TOKEN must be at least 24 characters long.');
  }
  const databaseUrl = resolveDatabase(flags.databaseUrl ?? env.DATABASE_URL, dataDir);
  const port = parsePort(flags.port ?? env.PORT ?? '3000', flags.port ? '--port' : 'PORT');
  const host = flags.host ?? env.HOST ?? '127.0.0.1';
  const workers = parseBool(env.OTPD_WORKERS, 'OTPD_WORKERS', true);
  const webhookAllowPrivate = parseBool(env.OTPD_WEBHOOK_ALLOW_PRIVATE, 'OTPD_WEBHOOK_ALLOW_PRIVATE', false);
  const retrySchedule = webhookRetrySchedule(env);
  const retention = env.OTPD_RETENTION_DAYS ?? '90';
  if (!/^\d{1,5}$/.test(retention)) {
    throw new ConfigError(
      `OTPD_RETENTION_DAYS must be a whole number of days (0 keeps everything), not "${retention}".`,
    );
  }
  const { secret, source } = resolveSecret(env, dataDir);
  return {
    port,
    host,
    dataDir,
    databaseUrl,
    secret,
    secretSource: source,
    adminToken,
    logLevel,
    workers,
    webhookAllowPrivate,
    webhookRetrySchedule: retrySchedule,
    deliveryConfigFile: env.OTPD_CONFIG ? resolve(env.OTPD_CONFIG) : undefined,
    dashboard: dashboardConfig(env),
    retentionDays: Number(retention),
    processes: parseProcesses(
      flags.processes ?? env.OTPD_PROCESSES,
      flags.processes ? '--processes' : 'OTPD_PROCESSES',
    ),
    dbPoolSize: parseWhole(env, 'OTPD_DB_POOL', 10, 1, 1000, 'connections'),
    dbTimeoutMs: parseWhole(env, 'OTPD_DB_TIMEOUT', 2, 1, 600, 'seconds') * 1000,
    dbStatementTimeoutMs: parseWhole(env, 'OTPD_DB_STATEMENT_TIMEOUT', 10, 0, 3600, 'seconds') * 1000,
    shutdownTimeoutMs: parseWhole(env, 'OTPD_SHUTDOWN_TIMEOUT', 10, 1, 3600, 'seconds') * 1000,
    trustProxy: parseTrustProxy(env.OTPD_TRUST_PROXY),
  };
}
