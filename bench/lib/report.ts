/** The bench's results as markdown tables, with the issue's targets marked PASS or MISS. */
import type { DrainResult } from './drain.js';
import type { WorkloadResult } from './load.js';

export interface ScalePoint {
  backend: string;
  /** Terminal OTPs stored (each with its message) besides what the rounds add. */
  storedOtps: number;
  seedSeconds: number;
  send: WorkloadResult;
  verify: WorkloadResult;
}

export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  machine: {
    cpus: number;
    model: string;
    memoryGb: number;
    node: string;
    /** 1, 5 and 15 minute load averages at the start and the end of the run. */
    loadStart: number[];
    loadEnd: number[];
  };
  git: { commit: string; dirty: boolean };
  options: Record<string, unknown>;
  /** By key: `hello.send`, `sqlite.send`, `sqlite.verify`, `sqlite.mixed`, `sqlite.latency`, `pg.send`, `better-auth.send`, … */
  workloads: Record<string, WorkloadResult>;
  scaling: ScalePoint[];
  drain: DrainResult[];
  /** Sections not run, with why. */
  skipped: string[];
  profiles: string[];
  /** What each otpd process logged (warn and above), by level and message, with counts. */
  logs: Record<string, Record<string, number>>;
}

export interface Target {
  target: string;
  measured: string;
  /** null when what it needs was not measured. */
  pass: boolean | null;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (n: number) => `${Math.round(n * 100)}%`;

export function targets(run: BenchRun): Target[] {
  const w = run.workloads;
  const rps = (key: string) => w[key]?.median.rps;
  const out: Target[] = [];
  const ratio = (target: string, a: string, b: string, min: number, asTimes = false) => {
    const x = rps(a);
    const y = rps(b);
    if (x === undefined || y === undefined) return out.push({ target, measured: 'not measured', pass: null });
    const r = x / y;
    out.push({
      target,
      measured: `${asTimes ? `${r.toFixed(1)}×` : pct(r)} (${int(x)} / ${int(y)} req/s)`,
      pass: r >= min,
    });
  };
  ratio('SQLite send ≥ 50% of hello-world req/s (64 connections)', 'sqlite.send', 'hello.send', 0.5);
  ratio('SQLite verify ≥ 65% of hello-world req/s (64 connections)', 'sqlite.verify', 'hello.verify', 0.65);
  const latency = w['sqlite.latency'];
  out.push({
    target: `SQLite send p99 ≤ 10 ms at ${latency?.connections ?? 8} connections`,
    measured: latency ? `${latency.median.p99} ms (${int(latency.median.rps)} req/s)` : 'not measured',
    pass: latency ? latency.median.p99 <= 10 : null,
  });
  ratio('PostgreSQL (one process) send ≥ 30% of hello-world', 'pg.send', 'hello.send', 0.3);
  ratio('PostgreSQL (one process) verify ≥ 30% of hello-world', 'pg.verify', 'hello.verify', 0.3);
  ratio('SQLite send ≥ 10× better-auth', 'sqlite.send', 'better-auth.send', 10, true);
  ratio('SQLite verify ≥ 10× better-auth', 'sqlite.verify', 'better-auth.verify', 10, true);
  for (const backend of new Set(run.scaling.map((p) => p.backend))) {
    const points = run.scaling.filter((p) => p.backend === backend);
    const first = points[0]!;
    const last = points[points.length - 1]!;
    for (const kind of ['send', 'verify'] as const) {
      const r = last[kind].median.rps / first[kind].median.rps;
      out.push({
        target: `${backend} ${kind} at ${int(last.storedOtps)} stored OTPs within 10% of ${int(first.storedOtps)}`,
        measured: `${pct(r)} (${int(last[kind].median.rps)} / ${int(first[kind].median.rps)} req/s)`,
        pass: points.length > 1 ? r >= 0.9 : null,
      });
    }
  }
  for (const backend of ['sqlite', 'pg']) {
    const peaks = [
      ...Object.entries(w)
        .filter(([key]) => key.startsWith(`${backend}.`))
        .map(([, r]) => r.median.peakRssMb),
      ...run.scaling
        .filter((p) => p.backend === label(backend))
        .flatMap((p) => [p.send.median.peakRssMb, p.verify.median.peakRssMb]),
    ];
    if (peaks.length === 0) continue;
    const peak = Math.max(...peaks);
    out.push({
      target: `otpd ${label(backend)} peak RSS ≤ 200 MB`,
      measured: `${int(peak)} MB`,
      pass: peak <= 200,
    });
  }
  for (const d of run.drain) {
    out.push({
      target: `${d.backend} worker drain ≥ 2,000 msg/s`,
      measured: `${int(d.perSecond)} msg/s`,
      pass: d.perSecond >= 2000,
    });
  }
  return out;
}

export const label = (backend: string) =>
  backend === 'pg' ? 'PostgreSQL' : backend === 'sqlite' ? 'SQLite' : backend;

function workloadRow(r: WorkloadResult): string {
  const m = r.median;
  const flows = r.perFlow > 1 ? ` (${int(m.rps / r.perFlow)} flows/s)` : '';
  return `| ${r.name} | ${r.connections} | ${int(m.rps)}${flows} | ${m.p50} | ${m.p99} | ${m.max} | ${int(m.non2xx)} (${int(m.unexpected)}) | ${m.errors + m.timeouts} | ${m.serverCpu.toFixed(2)} | ${m.generatorCpu.toFixed(2)} | ${int(m.peakRssMb)} |`;
}

const WORKLOAD_HEADER = [
  '| workload | conns | req/s | p50 ms | p99 ms | max ms | non-2xx (unexpected) | errors | server CPU | generator CPU | peak RSS MB |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];

export function markdown(run: BenchRun): string {
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines = [
    `# otpd bench, ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${run.machine.cpus} × ${run.machine.model}, ${run.machine.memoryGb} GB, Node ${run.machine.node}. ` +
      `Load average (1/5/15 min): ${load(run.machine.loadStart)} at the start, ${load(run.machine.loadEnd)} at the end. ` +
      `Commit ${run.git.commit.slice(0, 12)}${run.git.dirty ? ' (with uncommitted changes)' : ''}.`,
    '',
    `Rounds: ${run.options.rounds} × ${run.options.duration} s after ${run.options.warmup} s of warm-up; medians of the rounds (non-2xx and errors: sums; peak RSS: highest).`,
    '',
    ...WORKLOAD_HEADER,
    ...Object.values(run.workloads).map(workloadRow),
  ];
  if (run.scaling.length > 0) {
    lines.push(
      '',
      `## As stored OTPs grow (${run.scaling[0]!.send.connections} connections)`,
      '',
      '| backend | stored OTPs | seeding s | send req/s | send p99 ms | verify req/s | verify p99 ms | non-2xx (unexpected) | peak RSS MB |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...run.scaling.map(
        (p) =>
          `| ${p.backend} | ${int(p.storedOtps)} | ${p.seedSeconds.toFixed(0)} | ${int(p.send.median.rps)} | ${p.send.median.p99} | ${int(p.verify.median.rps)} | ${p.verify.median.p99} | ${int(p.send.median.non2xx + p.verify.median.non2xx)} (${int(p.send.median.unexpected + p.verify.median.unexpected)}) | ${int(Math.max(p.send.median.peakRssMb, p.verify.median.peakRssMb))} |`,
      ),
    );
  }
  if (run.drain.length > 0) {
    lines.push(
      '',
      '## Delivery worker drain into the inbox provider',
      '',
      '| backend | messages | queued in s | drained in s | msg/s | delivered |',
      '|---|---:|---:|---:|---:|---:|',
      ...run.drain.map(
        (d) =>
          `| ${d.backend} | ${int(d.messages)} | ${d.queueSeconds.toFixed(1)} | ${d.drainSeconds.toFixed(2)} | ${int(d.perSecond)} | ${int(d.delivered)} |`,
      ),
    );
  }
  lines.push('', '## Targets (2 cores)', '', '| target | measured | result |', '|---|---|---|');
  for (const t of targets(run)) {
    lines.push(`| ${t.target} | ${t.measured} | ${t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'MISS'} |`);
  }
  const logged = Object.entries(run.logs);
  if (logged.length > 0) {
    lines.push(
      '',
      '## What otpd logged (warn and above)',
      '',
      '| process | entry | count |',
      '|---|---|---:|',
    );
    for (const [process, entries] of logged) {
      for (const [entry, count] of Object.entries(entries))
        lines.push(`| ${process} | ${entry} | ${int(count)} |`);
    }
  }
  if (run.skipped.length > 0) lines.push('', ...[...new Set(run.skipped)].map((s) => `Skipped: ${s}`));
  if (run.profiles.length > 0) lines.push('', 'CPU profiles:', ...run.profiles.map((p) => `- ${p}`));
  return `${lines.join('\n')}\n`;
}
