/**
 * The servers under test, each in its own process: otpd (the built CLI),
 * the Fastify hello-world and better-auth. Their memory is read from
 * /proc/<pid>/status (VmHWM, the peak resident set), and their CPU time from
 * /proc/<pid>/stat, so the load generator's own use never counts.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SECRET = 'bench-secret-0123456789abcdef-0123456789abcdef';
export const ADMIN_TOKEN = 'bench-operator-token-0123456789abcdef';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerUnderTest {
  name: string;
  url: string;
  pid: number;
  /** Resets the peak RSS so the next `peakRssMb()` covers only what follows. */
  resetPeak(): void;
  peakRssMb(): number;
  /** User + system CPU seconds the process has used so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
  /** What the server logged, by level and message, with counts (otpd only). */
  logs?: Record<string, number>;
}

function readStatus(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.replace(/\D+/g, '')) : Number.NaN;
}

const TICKS_PER_SECOND = 100;

function watch(name: string, url: string, child: ChildProcess, stop: () => Promise<void>): ServerUnderTest {
  const pid = child.pid!;
  return {
    name,
    url,
    pid,
    resetPeak() {
      try {
        // 5 = reset the peak RSS (VmHWM) to the current RSS; allowed on our own child.
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        // Not permitted here: the peak then covers the process's whole life.
      }
    },
    peakRssMb: () => readStatus(pid, 'VmHWM') / 1024,
    cpuSeconds() {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    },
    stop,
  };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface OtpdOptions {
  databaseUrl: string;
  /** Starts node with --cpu-prof, writing a profile into this directory when otpd exits. */
  cpuProfDir?: string;
}

/**
 * The node flags of `npm start` (`node --max-old-space-size=256 dist/cli/main.js
 * serve`), so that the bench runs otpd as an operator does.
 */
function startFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const words = scripts.start!.split(/\s+/);
  return words.slice(1, words.indexOf('dist/cli/main.js'));
}

/** `node dist/cli/main.js serve` with npm start's flags, on a free port; resolves once it listens. */
export async function startOtpd(name: string, options: OtpdOptions): Promise<ServerUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otpd-bench-data-'));
  const nodeFlags = [
    ...startFlags(),
    ...(options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : []),
  ];
  const child = spawn(process.execPath, [...nodeFlags, 'dist/cli/main.js', 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      OTPD_DATA_DIR: dataDir,
      OTPD_SECRET: SECRET,
      OTPD_ADMIN_TOKEN: ADMIN_TOKEN,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`otpd did not start in 30 s:\n${output}`));
    }, 30_000);
    child.stdout!.on('data', () => {
      const m = output.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`otpd exited with ${code}:\n${output}`));
    });
  });
  // What otpd logs under load is tallied by level and message (the mixed
  // flow's verified-before-delivery warnings are many); errors are shown once each.
  output = '';
  const logs: Record<string, number> = {};
  let partial = '';
  const tally = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      let key = `text: ${line.slice(0, 120)}`;
      let level = 50;
      try {
        const entry = JSON.parse(line) as { level: number; msg?: string; err?: { message?: string } };
        level = entry.level;
        key = `${level >= 50 ? 'error' : level >= 40 ? 'warn' : 'info'}: ${entry.msg ?? ''}${entry.err?.message ? ` (${entry.err.message})` : ''}`;
      } catch {
        // not a log entry: counted as its text
      }
      if (level >= 50 && !(key in logs)) process.stderr.write(`  [${name}] ${line.slice(0, 400)}\n`);
      logs[key] = (logs[key] ?? 0) + 1;
    }
  };
  child.stdout!.on('data', tally);
  child.stderr!.on('data', tally);
  const server = watch(name, url, child, async () => {
    // SIGTERM: otpd closes cleanly, so a --cpu-prof profile gets written.
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited(child);
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { ...server, logs };
}

/** A plain-JavaScript server of bench/servers/, run by plain node, that tells its port over IPC. */
export async function startScript(
  name: string,
  script: string,
  args: string[] = [],
): Promise<ServerUnderTest & { child: ChildProcess }> {
  const child = fork(join(ROOT, 'bench/servers', script), args, {
    cwd: ROOT,
    execArgv: [],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const server = watch(name, `http://127.0.0.1:${port}`, child, async () => {
    child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited(child);
    clearTimeout(timer);
  });
  return { ...server, child };
}

/** A temporary directory for one SQLite database; removed by the returned function. */
export function temporarySqlite(): { url: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'otpd-bench-'));
  return { url: join(dir, 'otpd.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An admin or API call to a running otpd; throws unless it answers 2xx. */
export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as { data: T };
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json.data;
}

/**
 * Every limit raised out of the way: 1,000,000 per 10 s per scope, more than
 * any run sends. The counters are still taken on every send.
 */
export const RAISED_LIMITS = Object.fromEntries(
  [
    'phone_hour',
    'phone_day',
    'key_minute',
    'key_day',
    'ip_hour',
    'sms_phone_template_hour',
    'sms_key_day',
  ].map((scope) => [scope, { max: 1_000_000, window: 10 }]),
);

/** An account, a sandbox app with raised limits and an API key, through the admin API. */
export async function createTenant(base: string): Promise<{ appId: string; accountId: string; key: string }> {
  const account = await call<{ id: string }>(base, 'POST', '/admin/v1/accounts', ADMIN_TOKEN, {
    name: 'Bench',
  });
  const app = await call<{ id: string }>(base, 'POST', '/admin/v1/apps', ADMIN_TOKEN, {
    account_id: account.id,
    name: 'Bench',
    environment: 'sandbox',
    limits: RAISED_LIMITS,
  });
  const key = await call<{ secret: string }>(base, 'POST', `/admin/v1/apps/${app.id}/keys`, ADMIN_TOKEN);
  return { appId: app.id, accountId: account.id, key: key.secret };
}
