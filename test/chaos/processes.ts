import { type ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const ADMIN_TOKEN = 'chaos-operator-token-0123456789abcdef';
const SECRET = 'chaos-secret-0123456789abcdef-0123456789';

/** Every otpd child of this run: none may outlive it, whatever way it ends. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** An exit we did not cause: a crash of otpd itself. */
export interface UnexpectedExit {
  slot: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
  /** The last lines the process wrote. */
  tail: string;
}

/**
 * One otpd process slot (the built CLI, `node dist/cli/main.js serve`) on a
 * fixed port: killed and started again, it comes back at the same URL, so
 * the load generator keeps its list of processes.
 */
export class OtpdSlot {
  private child: ChildProcess | undefined;
  private killing = false;
  private starting: Promise<void> | undefined;
  private log = '';
  /** Held down by the chaos driver: the watchdog leaves it alone. */
  held = false;
  starts = 0;
  readonly url: string;

  private constructor(
    readonly slot: number,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly unexpected: UnexpectedExit[],
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async create(slot: number, env: Record<string, string>, unexpected: UnexpectedExit[]) {
    return new OtpdSlot(slot, await freePort(), env, unexpected);
  }

  get up(): boolean {
    return this.child !== undefined;
  }

  /** What every start of this slot wrote (bounded: the last 200 KB). */
  output(): string {
    return this.log;
  }

  /** Starts the process unless it is up; concurrent calls share one start. */
  start(): Promise<void> {
    if (this.child) return Promise.resolve();
    this.starting ??= this.spawn().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async spawn(): Promise<void> {
    const child = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
      env: {
        ...process.env,
        OTPD_SECRET: SECRET,
        OTPD_ADMIN_TOKEN: ADMIN_TOKEN,
        OTPD_DATA_DIR: join(tmpdir(), 'otpd-chaos-data'),
        PORT: String(this.port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    this.starts++;
    let out = '';
    const append = (d: Buffer) => {
      out += d;
      this.log = (this.log + d).slice(-200_000);
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`otpd slot ${this.slot} did not start:\n${out}`));
      }, 30_000);
      const check = () => {
        if (/listening on http/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`otpd slot ${this.slot} exited with ${code ?? signal} while starting:\n${out}`));
      });
    });
    this.child = child;
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (this.child === child) this.child = undefined;
      if (!this.killing)
        this.unexpected.push({ slot: this.slot, code, signal, at: Date.now(), tail: out.slice(-2000) });
    });
  }

  /** SIGKILL (or `signal`) and wait until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.killing = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    this.killing = false;
  }
}
