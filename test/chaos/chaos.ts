import SQLite from 'better-sqlite3';
import type { PrivatePostgres } from './pg-cluster.js';
import { sleep } from './ports.js';
import type { OtpdSlot } from './processes.js';

export interface ChaosOptions {
  slots: OtpdSlot[];
  kills: number;
  /** The kills are spread over this long. */
  durationMs: number;
  random: () => number;
  /** SQLite: the database file, checked with `PRAGMA integrity_check` after each kill. */
  sqliteFile?: string;
  /** PostgreSQL: the private cluster, crashed and restarted once mid-run. */
  postgres?: PrivatePostgres;
  log?: (line: string) => void;
}

export interface IntegrityResult {
  kill: number;
  result: string;
}

/**
 * SIGKILLs a random otpd process at random moments and starts it again
 * (downtime 0–600 ms), restarts PostgreSQL once halfway through, and keeps
 * every slot up: a process that died on its own is started again too (the
 * slot records it as an unexpected exit).
 */
export class ChaosDriver {
  kills = 0;
  readonly integrity: IntegrityResult[] = [];
  /** Wall-clock ms of each kill. */
  readonly killedAt: number[] = [];
  private watching = true;
  private watchdog: Promise<void> | undefined;

  constructor(private readonly options: ChaosOptions) {}

  async run(): Promise<void> {
    const { kills, durationMs, random, postgres, slots } = this.options;
    this.watchdog = this.watch();
    const deadline = Date.now() + durationMs;
    // The gap adapts to how long restarts take, so the kills fill the duration rather than overrun it.
    const gap = () => Math.max(300, (deadline - Date.now()) / (kills - this.kills + 1));
    const pgRestartAfter = postgres ? Math.floor(kills / 2) : -1;
    for (let i = 0; i < kills; i++) {
      await sleep(gap() * (0.5 + random()));
      const up = slots.filter((s) => s.up);
      const victim = up.length > 0 ? up[Math.floor(random() * up.length)]! : slots[0]!;
      victim.held = true;
      try {
        this.killedAt.push(Date.now());
        await victim.kill('SIGKILL');
        this.kills++;
        if (this.options.sqliteFile && slots.every((s) => !s.up)) this.checkIntegrity();
        await sleep(random() * 600);
        await this.startWithRetry(victim);
      } finally {
        victim.held = false;
      }
      this.options.log?.(`kill ${this.kills}/${kills}: slot ${victim.slot}`);
      if (i === pgRestartAfter && postgres) {
        // A crash of the database (immediate: no checkpoint, recovery on start) while load runs.
        await sleep(gap() * random() * 0.5);
        await postgres.restart('immediate');
        this.options.log?.(`PostgreSQL restarted (${postgres.restarts})`);
      }
    }
  }

  /** Stops restarting crashed slots; every slot is up when it returns. */
  async stop(): Promise<void> {
    this.watching = false;
    await this.watchdog;
    for (const slot of this.options.slots) await this.startWithRetry(slot);
  }

  private async watch(): Promise<void> {
    while (this.watching) {
      for (const slot of this.options.slots) {
        if (!slot.up && !slot.held && this.watching) await this.startWithRetry(slot).catch(() => {});
      }
      await sleep(250);
    }
  }

  /** A start can fail while the database is itself restarting: try again for a while. */
  private async startWithRetry(slot: OtpdSlot): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (slot.up) return;
      try {
        await slot.start();
        return;
      } catch (error) {
        if (slot.up) return;
        if (attempt >= 20) throw error;
        await sleep(500);
      }
    }
  }

  private checkIntegrity(): void {
    let result: string;
    try {
      const db = new SQLite(this.options.sqliteFile!, { readonly: true, fileMustExist: true });
      try {
        const rows = db.pragma('integrity_check') as { integrity_check: string }[];
        result = rows.map((r) => r.integrity_check).join('; ');
      } finally {
        db.close();
      }
    } catch (error) {
      result = `could not check: ${(error as Error).message}`;
    }
    this.integrity.push({ kill: this.kills, result });
  }
}
