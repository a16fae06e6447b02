import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A PostgreSQL server of this test's own (initdb + pg_ctl, trust auth on
 * 127.0.0.1), to stop and start under a running otpd without disturbing the
 * shared one. Needs the server binaries and root (it runs them as `postgres`);
 * `available()` says whether they are there.
 */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  static binaries(): string | undefined {
    const root = '/usr/lib/postgresql';
    if (!existsSync(root) || process.getuid?.() !== 0) return undefined;
    const version = readdirSync(root).sort().at(-1);
    const bin = version && join(root, version, 'bin');
    return bin && existsSync(join(bin, 'pg_ctl')) ? bin : undefined;
  }

  static async create(): Promise<PrivatePostgres> {
    const bin = PrivatePostgres.binaries();
    if (!bin) throw new Error('no PostgreSQL server binaries, or not root');
    const dir = mkdtempSync(join(tmpdir(), 'otpd-private-pg-'));
    chmodSync(dir, 0o700);
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    execFileSync(
      'runuser',
      ['-u', 'postgres', '--', join(bin, 'initdb'), '-D', dir, '-A', 'trust', '-U', 'postgres'],
      {
        stdio: 'ignore',
      },
    );
    const pg = new PrivatePostgres(dir, await freePort(), bin);
    pg.start();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    this.ctl(['-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, '-w', 'start']);
  }

  /** `fast`: terminates the sessions (57P01), as a restart or failover does. */
  stop(): void {
    this.ctl(['-m', 'fast', '-w', 'stop']);
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private ctl(args: string[]): void {
    execFileSync(
      'runuser',
      [
        '-u',
        'postgres',
        '--',
        join(this.bin, 'pg_ctl'),
        '-D',
        this.dir,
        '-l',
        join(this.dir, 'log'),
        ...args,
      ],
      { stdio: 'ignore' },
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}
