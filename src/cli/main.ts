#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { type ListeningMessage, runPrimary } from '../cluster/primary.js';
import { type Config, ConfigError } from '../config.js';
import { systemClock } from '../core/clock.js';
import { deriveKeyring } from '../core/crypto.js';
import { OtpdError } from '../core/errors.js';
import { loadDeliveryConfig } from '../delivery/config.js';
import { PROVIDER_SCHEMAS } from '../delivery/registry.js';
import { createLogger } from '../logger.js';
import { createOtpd } from '../runtime.js';
import { openStore } from '../store/db.js';
import { createAccount, getAccount, listAllAccounts } from '../tenancy/accounts.js';
import { changeApp, createApp, getApp, listAllApps } from '../tenancy/apps.js';
import { type InitResult, initialize } from '../tenancy/init.js';
import { createKey, listKeys, revokeKey } from '../tenancy/keys.js';
import { config, integer, print, where, withServices } from './services.js';
import { registerTemplateCommands } from './templates.js';
import { registerWalletCommands } from './wallet.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function initBanner(result: InitResult, port: number, host: string): string {
  const base = `http://${host}:${port}`;
  return [
    '',
    'First run: otpd set itself up. These secrets are shown this once; keep them.',
    `  operator token   ${result.admin_token}`,
    `  account          ${result.account_id}`,
    `  sandbox app      ${result.sandbox_app_id}   key ${result.sandbox_key}`,
    `  live app         ${result.live_app_id}   key ${result.live_key}`,
    '',
    'Try it: the sandbox code is always 123456. In another terminal:',
    `  export OTPD_KEY=${result.sandbox_key}`,
    `  curl -s ${base}/v1/otp/send -H "Authorization: Bearer $OTPD_KEY" \\`,
    `       -H 'content-type: application/json' -d '{"phone":"+9779841234567"}'`,
    '',
  ].join('\n');
}

const program = new Command('otpd')
  .description('Self-hostable OTP verification: send, deliver and verify one-time codes.')
  .version(pkg.version)
  .option('--port <port>', 'HTTP port (PORT, default 3000)')
  .option('--host <host>', 'address to listen on (HOST, default 127.0.0.1)')
  .option('--data-dir <dir>', 'data directory (OTPD_DATA_DIR, default ./data)')
  .option('--database-url <url>', 'postgres://… or a SQLite file (DATABASE_URL)');

program
  .command('serve', { isDefault: true })
  .description('start the server (the default command)')
  .option(
    '--processes <n>',
    'server processes on this machine; auto = one per CPU (OTPD_PROCESSES, default 1)',
  )
  .action(async (_opts, command: Command) => {
    const cfg = config(command);
    const log = createLogger(cfg.logLevel);
    if (cluster.isPrimary && cfg.processes > 1) {
      if (cfg.databaseUrl === ':memory:') {
        throw new ConfigError('--processes needs a database file or PostgreSQL, not :memory:.');
      }
      await servePrimary(cfg, log);
    } else {
      await serveOne(cfg, log);
    }
  });

/** Warns about a generated secret, once (the processes of a cluster read the file it wrote). */
function warnGeneratedSecret(cfg: Config, log: ReturnType<typeof createLogger>) {
  if (cfg.secretSource === 'generated') {
    log.warn(
      `OTPD_SECRET is not set: generated one into ${cfg.dataDir}/secret (mode 0600). Keep it; codes and keys depend on it.`,
    );
  }
}

/** Several processes: migrate and set up once here, then fork the servers (src/cluster/primary.ts). */
async function servePrimary(cfg: Config, log: ReturnType<typeof createLogger>) {
  warnGeneratedSecret(cfg, log);
  const store = await openStore({ url: cfg.databaseUrl, poolSize: 2 });
  let first: InitResult | null;
  try {
    first = await initialize(
      { store, clock: systemClock, keyring: deriveKeyring(cfg.secret), log, wakeDelivery: () => {} },
      cfg.adminToken,
    );
  } finally {
    await store.close();
  }
  runPrimary({
    processes: cfg.processes,
    shutdownTimeoutMs: cfg.shutdownTimeoutMs,
    log,
    onListening: (message: ListeningMessage) => {
      if (first) process.stdout.write(initBanner(first, message.port, cfg.host));
      const [address, ...rest] = message.lines;
      const all = address!.replace(/\)$/, `, ${cfg.processes} processes)`);
      process.stdout.write([all, ...rest, ''].join('\n'));
    },
  });
}

/** One server process: alone, or one of a cluster's. */
async function serveOne(cfg: Config, log: ReturnType<typeof createLogger>) {
  if (cluster.isPrimary) warnGeneratedSecret(cfg, log);
  const otpd = await createOtpd(cfg, log);
  // In a cluster the primary set it up before forking.
  const first = cluster.isPrimary ? await initialize(otpd.ctx, cfg.adminToken) : null;
  await otpd.server.listen({ port: cfg.port, host: cfg.host });
  const address = otpd.server.server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  const lines = [
    `otpd ${pkg.version} listening on http://${cfg.host}:${port} (${where(cfg)})`,
    otpd.delivery.router.configured
      ? `Delivery: ${[...otpd.delivery.providers.values()]
          .filter((p) => p.name !== 'inbox')
          .map((p) => `${p.name} (${p.type})`)
          .join(', ')}; sandbox messages go to the inbox at /inbox.`
      : 'No delivery provider is configured: every message goes to the inbox at /inbox.',
    `API docs at http://${cfg.host}:${port}/docs`,
  ];
  if (cluster.isWorker) {
    process.send?.({ type: 'otpd:listening', port, lines } satisfies ListeningMessage);
  } else {
    if (first) process.stdout.write(initBanner(first, port, cfg.host));
    process.stdout.write([...lines, ''].join('\n'));
  }
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    // Draining is bounded: what is still out then is left to its lease (see docs/deploy.md).
    setTimeout(() => {
      log.error(
        { timeout_ms: cfg.shutdownTimeoutMs },
        'shutdown took longer than OTPD_SHUTDOWN_TIMEOUT: exiting',
      );
      process.exit(1);
    }, cfg.shutdownTimeoutMs).unref();
    otpd.close().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A cluster process whose primary is gone (killed) stops too, cleanly.
  if (cluster.isWorker) process.on('disconnect', () => shutdown('disconnect'));
}

program
  .command('init')
  .description('first-run setup: operator token, demo account, sandbox and live apps with keys')
  .option('--json', 'print the result as JSON')
  .action(async (opts: { json?: boolean }, command: Command) => {
    await withServices(command, async (ctx, cfg) => {
      const result = await initialize(ctx, cfg.adminToken);
      if (!result) {
        const message = 'otpd is already initialised; its secrets were shown once, when it was set up.';
        if (opts.json) print({ initialized: false, message });
        else process.stdout.write(`${message}\n`);
        return;
      }
      if (opts.json) print(result);
      else process.stdout.write(initBanner(result, cfg.port, cfg.host));
    });
  });

program
  .command('migrate')
  .description('bring the database schema up to date')
  .action(async (_opts, command: Command) => {
    await withServices(command, async (_ctx, cfg) => {
      process.stdout.write(`Schema of ${where(cfg)} is up to date.\n`);
    });
  });

program
  .command('check-config [file]')
  .description('check a delivery configuration (default: OTPD_CONFIG) and print its providers and routes')
  .action(async (file: string | undefined) => {
    const path = file ?? process.env.OTPD_CONFIG;
    if (!path) throw new ConfigError('Name a file, or set OTPD_CONFIG.');
    const checked = loadDeliveryConfig(path, PROVIDER_SCHEMAS);
    const lines = [`${path} is valid.`];
    for (const [name, settings] of Object.entries(checked.providers))
      lines.push(`provider ${name}: ${settings.type}`);
    checked.routes.forEach((route, i) => {
      const match = [
        route.channel ?? 'any channel',
        route.countries?.join(',') ?? '',
        route.prefixes?.join(',') ?? '',
      ]
        .filter(Boolean)
        .join(' ');
      lines.push(`route ${i}: ${match} → ${route.providers.join(' → ')}`);
    });
    if (checked.ussd) lines.push('ussd gateway: enabled at POST /ussd');
    process.stdout.write(`${lines.join('\n')}\n`);
  });

const accounts = program.command('accounts').description('manage accounts (tenants)');
accounts
  .command('create <name>')
  .option('--email <email>')
  .option('--currency <code>', 'wallet currency', 'USD')
  .action(async (name: string, opts: { email?: string; currency: string }, command: Command) =>
    withServices(command, async (ctx) => print(await createAccount(ctx, { name, ...opts }))),
  );
accounts
  .command('list')
  .option('--limit <n>', 'how many', integer, 100)
  .action(async (opts: { limit: number }, command: Command) =>
    withServices(command, async (ctx) => print(await listAllAccounts(ctx, { limit: opts.limit }))),
  );
accounts
  .command('get <id>')
  .action(async (id: string, _opts, command: Command) =>
    withServices(command, async (ctx) => print(await getAccount(ctx, id))),
  );

const apps = program.command('apps').description('manage apps and their OTP policy');
apps
  .command('create <account_id> <name>')
  .option('--live', 'a live app (default: sandbox)')
  .option('--policy <json>', 'policy fields as JSON, e.g. \'{"code_length":8}\'')
  .action(
    async (accountId: string, name: string, opts: { live?: boolean; policy?: string }, command: Command) =>
      withServices(command, async (ctx) =>
        print(
          await createApp(ctx, {
            account_id: accountId,
            name,
            environment: opts.live ? 'live' : 'sandbox',
            ...(opts.policy ? JSON.parse(opts.policy) : {}),
          }),
        ),
      ),
  );
apps
  .command('list')
  .option('--account <id>')
  .option('--limit <n>', 'how many', integer, 100)
  .action(async (opts: { account?: string; limit: number }, command: Command) =>
    withServices(command, async (ctx) =>
      print(await listAllApps(ctx, { limit: opts.limit, account_id: opts.account })),
    ),
  );
apps
  .command('get <id>')
  .action(async (id: string, _opts, command: Command) =>
    withServices(command, async (ctx) => print(await getApp(ctx, id))),
  );
apps
  .command('update <id> <json>')
  .description('change fields, e.g. \'{"max_attempts":5}\'')
  .action(async (id: string, json: string, _opts, command: Command) =>
    withServices(command, async (ctx) => print(await changeApp(ctx, id, JSON.parse(json)))),
  );

const keys = program.command('keys').description('manage API keys');
keys
  .command('create <app_id>')
  .description('create a key; the secret is printed once')
  .action(async (appId: string, _opts, command: Command) =>
    withServices(command, async (ctx) => print(await createKey(ctx, appId))),
  );
keys
  .command('list <app_id>')
  .action(async (appId: string, _opts, command: Command) =>
    withServices(command, async (ctx) => print(await listKeys(ctx, appId))),
  );
keys
  .command('revoke <key_id>')
  .action(async (keyId: string, _opts, command: Command) =>
    withServices(command, async (ctx) => print(await revokeKey(ctx, keyId))),
  );

registerTemplateCommands(program);
registerWalletCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof OtpdError || error instanceof SyntaxError) {
    const code = error instanceof OtpdError ? `${error.code}: ` : '';
    process.stderr.write(`otpd: ${code}${error.message}\n`);
    process.exit(2);
  }
  // Anything else (an unreachable database, say): one line; the stack with LOG_LEVEL=debug.
  const debug = /^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '');
  const message =
    error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`otpd: ${message || (error as { code?: string }).code || 'failed'}\n`);
  process.exit(1);
});
