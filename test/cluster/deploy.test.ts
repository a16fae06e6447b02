import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { Kysely, type Migration, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config.js';
import type { Context } from '../../src/context.js';
import { systemClock } from '../../src/core/clock.js';
import { deriveKeyring } from '../../src/core/crypto.js';
import { isPostgresUrl, openStore, type Store } from '../../src/store/db.js';
import type { Database } from '../../src/store/schema.js';
import { createAccount } from '../../src/tenancy/accounts.js';
import { createApp } from '../../src/tenancy/apps.js';
import { createKey } from '../../src/tenancy/keys.js';
import { ADMIN_TOKEN, freshDatabaseUrl, http, SECRET, startProcess } from '../harness.js';

/**
 * The steps of docs/deploy.md that run without systemd or Docker, on the
 * built CLI: `otpd migrate` on a fresh database, `otpd serve --processes 2`
 * (both processes answer; one killed is replaced; SIGTERM stops them all
 * cleanly), and an upgrade: a database at an older schema brought up to
 * date by `otpd migrate` with every row kept.
 */

const env = (databaseUrl: string, extra: Record<string, string> = {}) => ({
  ...process.env,
  DATABASE_URL: databaseUrl,
  OTPD_SECRET: SECRET,
  OTPD_ADMIN_TOKEN: ADMIN_TOKEN,
  OTPD_DATA_DIR: join(tmpdir(), 'otpd-proc-data'),
  LOG_LEVEL: 'warn',
  ...extra,
});

const migrate = (databaseUrl: string) =>
  spawnSync(process.execPath, ['dist/cli/main.js', 'migrate'], { env: env(databaseUrl), encoding: 'utf8' });

/** The server processes a primary forked. */
const children = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
  } catch {
    return [];
  }
};

/** The processes holding the server side of open connections to `port` (from `ss`). */
async function servingProcesses(port: number, connections = 6): Promise<Set<number>> {
  const sockets = await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = connect(port, '127.0.0.1');
      // An answered request: the connection was handed to a server process.
      // (One handed to a process that just died is closed, or never answered.)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3_000);
        for (const event of ['data', 'close', 'error']) {
          socket.once(event, () => {
            clearTimeout(timer);
            resolve();
          });
        }
        socket.write('GET /healthz HTTP/1.1\r\nHost: otpd\r\n\r\n');
      });
      return socket;
    }),
  );
  const listing = execFileSync('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`], {
    encoding: 'utf8',
  });
  for (const socket of sockets) socket.destroy();
  return new Set([...listing.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('deploy guide: migrate, then serve --processes 2', () => {
  it('migrates a fresh database, serves from two processes, replaces a dead one, stops on SIGTERM', {
    timeout: 90_000,
  }, async () => {
    const databaseUrl = await freshDatabaseUrl();
    const migrated = migrate(databaseUrl);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/^Schema of (PostgreSQL|SQLite .*) is up to date\.$/m);

    const proc = await startProcess(databaseUrl, { OTPD_PROCESSES: '2', OTPD_SHUTDOWN_TIMEOUT: '5' });
    expect(proc.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(.*, 2 processes\)/);
    // The operator token was set, so no first-run banner; it was set up once, by the primary.
    const accounts = await http(`${proc.url}/admin/v1/accounts?limit=100`, 'GET', { key: ADMIN_TOKEN });
    expect(accounts.body.data.items.filter((a: { name: string }) => a.name === 'Demo')).toHaveLength(1);

    const pid = proc.child.pid!;
    const workers = await until('two server processes', () => {
      const found = children(pid);
      return found.length === 2 ? found : undefined;
    });
    // Connections are spread over both.
    const port = Number(new URL(proc.url).port);
    expect(await servingProcesses(port)).toEqual(new Set(workers));

    // One dies: the primary forks another; the port never stops answering.
    // (Connections the dead one held are gone with it; new ones are answered.)
    process.kill(workers[0]!, 'SIGKILL');
    expect((await servingProcesses(port, 2)).size).toBeGreaterThanOrEqual(1);
    const replaced = await until('a replacement process', () => {
      const found = children(pid);
      return found.length === 2 && !found.includes(workers[0]!) ? found : undefined;
    });
    expect(replaced).toContain(workers[1]);
    await until('the replacement to answer', async () =>
      (await servingProcesses(port)).size === 2 ? true : undefined,
    );
    expect(await servingProcesses(port)).toEqual(new Set(replaced));
    expect(proc.child.exitCode).toBeNull();

    const t0 = Date.now();
    await proc.stop('SIGTERM');
    expect(proc.child.exitCode, proc.output()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    for (const worker of replaced) expect(() => process.kill(worker, 0)).toThrow();
  });
});

/**
 * The migrations as src/store/migrations.ts lists them (it exports only
 * `migrate`): its source, with its imports made absolute, loaded from a
 * copy, so that a database can be taken to an older schema.
 */
async function allMigrations(): Promise<Record<string, Migration>> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const source = readFileSync(join(root, 'src/store/migrations.ts'), 'utf8').replaceAll(
    "from './",
    `from '${join(root, 'src/store')}/`,
  );
  const copy = join(root, 'test/cluster', `.migrations-${process.pid}.ts`);
  writeFileSync(copy, `${source}\nexport const ALL_MIGRATIONS = migrations;\n`);
  try {
    return (await import(copy)).ALL_MIGRATIONS;
  } finally {
    rmSync(copy, { force: true });
  }
}

/** A store on a database migrated only up to `last`, as a release that ended there left it. */
async function olderStore(databaseUrl: string, last: string): Promise<Store> {
  const migrations = await allMigrations();
  expect(Object.keys(migrations)).toContain(last);
  const postgres = isPostgresUrl(databaseUrl);
  const db = new Kysely<Database>({
    dialect: postgres
      ? new PostgresDialect({
          pool: new pg.Pool({
            connectionString: databaseUrl,
            max: 2,
            // As otpd reads them: int8 millisecond timestamps as numbers.
            types: {
              getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
                oid === 20
                  ? (value: string) => Number(value)
                  : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
            },
          }),
        })
      : new SqliteDialect({ database: new SQLite(databaseUrl) }),
  });
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error } = await migrator.migrateTo(last);
  if (error) throw error;
  return {
    db,
    dialect: postgres ? 'postgres' : 'sqlite',
    rowLocks: postgres,
    tx: (fn) => db.transaction().execute(fn),
    close: () => db.destroy(),
  };
}

describe('deploy guide: upgrade', () => {
  it('otpd migrate brings a database of an older schema up to date, keeping every row', {
    timeout: 60_000,
  }, async () => {
    const databaseUrl = await freshDatabaseUrl();
    // The release before the dashboard (0006) made this database and its rows.
    const old = await olderStore(databaseUrl, '0005_wallet');
    const ctx: Context = {
      store: old,
      clock: systemClock,
      keyring: deriveKeyring(SECRET),
      log: pino({ level: 'silent' }),
      wakeDelivery: () => {},
    };
    const tables = ['accounts', 'apps', 'api_keys', 'kysely_migration'];
    const count = async (store: Store, table: string) =>
      Number(
        (await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(store.db)).rows[0]!
          .n,
      );
    const before: Record<string, number> = {};
    let key: string;
    try {
      const account = await createAccount(ctx, { name: 'Before the upgrade' });
      const app = await createApp(ctx, { account_id: account.id, name: 'Old app', environment: 'sandbox' });
      key = (await createKey(ctx, app.id)).secret;
      for (const table of tables) before[table] = await count(old, table);
    } finally {
      await old.close();
    }
    expect(before.kysely_migration).toBe(5);

    const migrated = migrate(databaseUrl);
    expect(migrated.status, migrated.stderr).toBe(0);

    const after = await openStore({ url: databaseUrl });
    try {
      for (const table of tables.filter((t) => t !== 'kysely_migration')) {
        expect(await count(after, table), table).toBe(before[table]);
      }
      const names = await sql<{ name: string }>`select name from kysely_migration`.execute(after.db);
      expect(names.rows.map((r) => r.name)).toEqual(
        expect.arrayContaining(['0005_wallet', '0006_dashboard']),
      );
    } finally {
      await after.close();
    }

    // The new version serves the old rows: the old key sends and verifies a code.
    const proc = await startProcess(databaseUrl);
    const sent = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone: '+9779847000001' } });
    expect(sent.status).toBe(201);
    const verified = await http(`${proc.url}/v1/otp/verify`, 'POST', {
      key,
      body: { otp_id: sent.body.data.otp_id, code: '123456' },
    });
    expect(verified.body.data).toMatchObject({ verified: true });
    await proc.stop();
  });
});

describe('deploy guide: the files in deploy/', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const read = (file: string) => readFileSync(join(root, 'deploy', file), 'utf8');

  it('compose: migrate runs first, two otpd behind the balancer, one secret for all', () => {
    const compose = parseYaml(read('compose.yaml'), { merge: true });
    const services = compose.services;
    expect(Object.keys(services).sort()).toEqual(['lb', 'migrate', 'otpd-a', 'otpd-b', 'postgres', 'redis']);
    expect(services.migrate.command).toEqual(['migrate']);
    for (const name of ['otpd-a', 'otpd-b']) {
      expect(services[name].depends_on.migrate.condition).toBe('service_completed_successfully');
      expect(services[name].environment.OTPD_SECRET).toMatch(/^\$\{OTPD_SECRET:\?/);
      expect(services[name].environment.DATABASE_URL).toBe(services.migrate.environment.DATABASE_URL);
      // Every setting it names is one otpd reads.
      const config = loadConfig({
        ...services[name].environment,
        OTPD_SECRET: SECRET,
        OTPD_ADMIN_TOKEN: ADMIN_TOKEN,
      });
      expect(config.processes).toBe(2);
      expect(config.trustProxy).toEqual(['172.16.0.0/12', '10.0.0.0/8', '192.168.0.0/16']);
    }
    expect(read('Caddyfile')).toMatch(/health_uri \/readyz/);
  });

  it('the systemd unit drains on SIGTERM to the primary and migrates before it starts', () => {
    const unit = read('otpd.service');
    for (const line of [
      'KillSignal=SIGTERM',
      'KillMode=mixed',
      'Restart=on-failure',
      'ProtectSystem=strict',
      'DynamicUser=yes',
      'ExecStartPre=/usr/bin/node /srv/otpd/dist/cli/main.js migrate',
    ]) {
      expect(unit).toContain(line);
    }
    // Longer than the default OTPD_SHUTDOWN_TIMEOUT (10 s).
    expect(Number(/TimeoutStopSec=(\d+)s/.exec(unit)![1])).toBeGreaterThan(10);
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^FROM node:20-slim/gm)).toHaveLength(2);
    expect(dockerfile).toContain('npm prune --omit=dev');
  });
});
