/**
 * Drives one workload against one server with autocannon: a warm-up, then
 * several measured rounds, and the median of each figure over the rounds.
 */
import { loadavg } from 'node:os';
import autocannon, { type Request } from 'autocannon';
import type { ServerUnderTest } from './servers.js';

export interface Workload {
  /** Row label: `otpd SQLite send`. */
  name: string;
  requests: Request[];
  /** Requests per flow (3 for send + wrong guess + verify), for flows/s. */
  perFlow?: number;
  /**
   * Prepares what the next `seconds` of load consume (pending OTPs for
   * verify), given the highest rate seen so far; runs while the server is idle.
   */
  prepare?(seconds: number, rps: number): Promise<void>;
  /** How many non-2xx answers so far were meant (the mixed flow's wrong guesses). */
  expectedNon2xx?(): number;
}

export interface LoadOptions {
  connections: number;
  warmup: number;
  duration: number;
  rounds: number;
}

export interface Round {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  requests: number;
  non2xx: number;
  /** Non-2xx answers that were not meant: refusals, errors. */
  unexpected: number;
  errors: number;
  timeouts: number;
  /** Responses by status, `{ "201": 1234, "409": 2 }`. */
  statuses: Record<string, number>;
  /** The server's CPU use over the round, in cores (1.0 = one core busy). */
  serverCpu: number;
  /** The load generator's (this process's) CPU use, in cores. */
  generatorCpu: number;
  peakRssMb: number;
  load1: number;
}

export interface WorkloadResult {
  name: string;
  server: string;
  connections: number;
  rounds: Round[];
  /** Medians over the rounds; `peakRssMb` is the highest, and the counts are sums. */
  median: Round;
  warmup: { rps: number; unexpected: number; errors: number };
  perFlow: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function once(server: ServerUnderTest, workload: Workload, connections: number, seconds: number) {
  const expectedBefore = workload.expectedNon2xx?.() ?? 0;
  const cpuBefore = server.cpuSeconds();
  const generatorBefore = process.cpuUsage();
  server.resetPeak();
  const startedAt = performance.now();
  const result = await autocannon({
    url: server.url,
    connections,
    duration: seconds,
    timeout: 30,
    requests: workload.requests,
  });
  const wall = (performance.now() - startedAt) / 1000;
  const generator = process.cpuUsage(generatorBefore);
  const statuses: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) statuses[status] = count;
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    requests,
    non2xx: result.non2xx,
    unexpected: result.non2xx - ((workload.expectedNon2xx?.() ?? 0) - expectedBefore),
    errors: result.errors,
    timeouts: result.timeouts,
    statuses,
    serverCpu: (server.cpuSeconds() - cpuBefore) / wall,
    generatorCpu: (generator.user + generator.system) / 1e6 / wall,
    peakRssMb: server.peakRssMb(),
    load1: loadavg()[0]!,
  } satisfies Round;
}

/** Rough guess of a workload's rate before anything was measured: enough for a fresh server's warm-up. */
const FIRST_GUESS_RPS = 8000;

export async function runWorkload(
  server: ServerUnderTest,
  workload: Workload,
  options: LoadOptions,
): Promise<WorkloadResult> {
  let fastest = FIRST_GUESS_RPS;
  await workload.prepare?.(options.warmup, fastest);
  const warm = await once(server, workload, options.connections, options.warmup);
  // Twice the warm-up's rate: a cold process warms up slower than it then runs
  // (a verify round at 1.75× its warm-up ran out of seeded OTPs).
  fastest = Math.max(warm.rps * 2, 1);
  const rounds: Round[] = [];
  for (let i = 0; i < options.rounds; i++) {
    await workload.prepare?.(options.duration, fastest);
    const round = await once(server, workload, options.connections, options.duration);
    fastest = Math.max(fastest, round.rps);
    rounds.push(round);
    console.log(
      `  ${workload.name} @${options.connections}c round ${i + 1}: ${Math.round(round.rps)} req/s, p50 ${round.p50} ms, p99 ${round.p99} ms, max ${round.max} ms, non-2xx ${round.non2xx} (unexpected ${round.unexpected})${round.errors ? `, errors ${round.errors}` : ''}, server CPU ${round.serverCpu.toFixed(2)}, RSS ${Math.round(round.peakRssMb)} MB`,
    );
  }
  const statuses: Record<string, number> = {};
  for (const r of rounds)
    for (const [s, n] of Object.entries(r.statuses)) statuses[s] = (statuses[s] ?? 0) + n;
  const sum = (pick: (r: Round) => number) => rounds.reduce((a, r) => a + pick(r), 0);
  return {
    name: workload.name,
    server: server.name,
    connections: options.connections,
    rounds,
    perFlow: workload.perFlow ?? 1,
    warmup: { rps: warm.rps, unexpected: warm.unexpected, errors: warm.errors },
    median: {
      rps: median(rounds.map((r) => r.rps)),
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      max: median(rounds.map((r) => r.max)),
      requests: sum((r) => r.requests),
      non2xx: sum((r) => r.non2xx),
      unexpected: sum((r) => r.unexpected),
      errors: sum((r) => r.errors),
      timeouts: sum((r) => r.timeouts),
      statuses,
      serverCpu: median(rounds.map((r) => r.serverCpu)),
      generatorCpu: median(rounds.map((r) => r.generatorCpu)),
      peakRssMb: Math.max(...rounds.map((r) => r.peakRssMb)),
      load1: median(rounds.map((r) => r.load1)),
    },
  };
}

/** A JSON POST with a body made per request. */
export function post(
  path: string,
  headers: Record<string, string>,
  body: (context: Record<string, unknown>) => unknown,
  onResponse?: Request['onResponse'],
): Request {
  return {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    setupRequest(request, context) {
      request.body = JSON.stringify(body(context));
      return request;
    },
    ...(onResponse ? { onResponse } : {}),
  };
}
