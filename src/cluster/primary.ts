import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

/** What a server process tells the primary once it listens. */
export interface ListeningMessage {
  type: 'otpd:listening';
  port: number;
  /** Its startup lines (address, delivery, docs), printed once by the primary. */
  lines: string[];
}

export const isListeningMessage = (message: unknown): message is ListeningMessage =>
  typeof message === 'object' &&
  message !== null &&
  (message as { type?: unknown }).type === 'otpd:listening';

export interface PrimaryOptions {
  processes: number;
  /** After SIGTERM, how long the processes have to drain (theirs, plus a little) before they are killed. */
  shutdownTimeoutMs: number;
  log: Logger;
  /** Called once, when every first process listens: prints the banner and the address. */
  onListening(message: ListeningMessage): void;
}

/** A process that dies this soon after the last death counts as crashing again: the wait before the next doubles. */
const CRASH_WINDOW_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * `otpd serve --processes N`: forks N server processes (node:cluster) that
 * share one listening port; the operating system spreads connections over
 * them. A process that dies on its own is replaced (after 0.25 s, doubling
 * up to 30 s while they keep dying); SIGTERM and SIGINT are passed on and
 * the primary exits when every process has drained and exited (0 if all
 * did cleanly). The primary itself serves nothing and holds no database
 * connection.
 */
export function runPrimary(options: PrimaryOptions): void {
  const { log } = options;
  const live = new Set<Worker>();
  const listened = new Set<number>();
  const crashes: number[] = [];
  let started = false;
  let stopping = false;
  let failed = false;

  const fork = () => {
    const worker = cluster.fork();
    live.add(worker);
    worker.on('message', (message: unknown) => {
      if (!isListeningMessage(message)) return;
      listened.add(worker.id);
      if (started) {
        log.info({ pid: worker.process.pid }, 'a replacement server process is listening');
      } else if ([...live].every((w) => listened.has(w.id))) {
        started = true;
        options.onListening(message);
      }
    });
  };

  const finish = () => {
    if (live.size === 0) process.exit(failed ? 1 : 0);
  };

  cluster.on('exit', (worker, code, signal) => {
    live.delete(worker);
    if (stopping) {
      if (code !== 0) failed = true;
      finish();
      return;
    }
    if (!started) {
      // A process that cannot start (a port in use, an unreachable database) would only crash again.
      log.error({ pid: worker.process.pid, code, signal }, 'a server process failed to start; stopping');
      failed = true;
      stop('SIGTERM');
      return;
    }
    const now = Date.now();
    while (crashes.length > 0 && now - crashes[0]! > CRASH_WINDOW_MS) crashes.shift();
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** crashes.length);
    crashes.push(now);
    log.warn(
      { pid: worker.process.pid, code, signal, restart_in_ms: delay },
      'a server process died; replacing it',
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, delay).unref();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, processes: live.size }, 'shutting down');
    for (const worker of live) worker.process.kill(signal);
    // Each process force-exits at its own OTPD_SHUTDOWN_TIMEOUT; this is the backstop.
    setTimeout(() => {
      for (const worker of live) worker.process.kill('SIGKILL');
      log.error('server processes did not exit in time: killed');
      process.exit(1);
    }, options.shutdownTimeoutMs + 5_000).unref();
    finish();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  for (let i = 0; i < options.processes; i++) fork();
}
