import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** The newest installed PostgreSQL's bin directory (Debian layout), found rather than assumed. */
function findBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

function binDir(): string {
  const bin = findBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  return bin;
}

/**
 * A private PostgreSQL cluster for the chaos harness: its own data directory
 * and port, so that restarting it (even crashing it with `-m immediate`)
 * never touches the shared server other tests run against. Runs as the
 * `postgres` user when we are root (initdb refuses root).
 */
export class PrivatePostgres {
  restarts = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  /** Whether a private server can be started here (server binaries installed). */
  static available(): boolean {
    return findBinDir() !== undefined;
  }

  static async start(): Promise<PrivatePostgres> {
    const bin = binDir();
    const dir = mkdtempSync(join(tmpdir(), 'otpd-chaos-pg-'));
    const cluster = new PrivatePostgres(dir, await freePort(), bin);
    const root = process.getuid?.() === 0;
    if (root) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await cluster.asOwner(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres']);
    await cluster.ctl(['start', '-w', '-t', '60', '-l', join(dir, 'server.log')]);
    return cluster;
  }

  /** A fresh database on this cluster, by name. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url('postgres') });
    await client.connect();
    await client.query(`create database "${name}"`);
    await client.end();
    return this.url(name);
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Restarts the server: `immediate` is a crash (recovery from WAL on start), `fast` a clean stop. */
  async restart(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    await this.ctl(['restart', '-w', '-t', '60', '-m', mode, '-l', join(this.dir, 'server.log')]);
    this.restarts++;
  }

  /** Stops the server and keeps its data (`fast` ends the sessions with 57P01, as a failover does). */
  async halt(): Promise<void> {
    await this.ctl(['stop', '-w', '-m', 'fast']);
  }

  /** Starts a halted server again. */
  async resume(): Promise<void> {
    await this.ctl(['start', '-w', '-t', '60', '-l', join(this.dir, 'server.log')]);
  }

  /** Stops the server and deletes it. */
  async stop(): Promise<void> {
    try {
      await this.ctl(['stop', '-w', '-m', 'immediate']);
    } catch {
      // already down
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private ctl(args: string[]) {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    return this.asOwner(join(this.bin, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-o', options, ...args]);
  }

  private asOwner(command: string, args: string[]) {
    return process.getuid?.() === 0
      ? run('runuser', ['-u', 'postgres', '--', command, ...args])
      : run(command, args);
  }
}
