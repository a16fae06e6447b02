import { type Command, InvalidArgumentError } from 'commander';
import { type Config, type ConfigFlags, loadConfig } from '../config.js';
import type { Context } from '../context.js';
import { systemClock } from '../core/clock.js';
import { deriveKeyring } from '../core/crypto.js';
import { createLogger } from '../logger.js';
import { isPostgresUrl, openStore } from '../store/db.js';

/** What every CLI command shares: configuration, services without the server, output. */
export function config(command: Command): Config {
  return loadConfig(process.env, command.optsWithGlobals<ConfigFlags>());
}

export function where(cfg: Config): string {
  return isPostgresUrl(cfg.databaseUrl) ? 'PostgreSQL' : `SQLite ${cfg.databaseUrl}`;
}

/** Runs `fn` over services on the configured database, without the HTTP server. */
export async function withServices<T>(
  command: Command,
  fn: (ctx: Context, cfg: Config) => Promise<T>,
): Promise<T> {
  const cfg = config(command);
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const store = await openStore({ url: cfg.databaseUrl, poolSize: 2 });
  try {
    return await fn(
      { store, clock: systemClock, keyring: deriveKeyring(cfg.secret), log, wakeDelivery: () => {} },
      cfg,
    );
  } finally {
    await store.close();
  }
}

export const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

export const integer = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('Not an integer.');
  return n;
};
