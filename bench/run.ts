/**
 * otpd's benchmark (issue 7): throughput, latency and memory of send, verify
 * and the whole flow on SQLite and PostgreSQL, next to a Fastify hello-world
 * (the framework's ceiling) and better-auth's phone-number plugin, plus how
 * it holds as stored OTPs grow and how fast the delivery worker drains.
 *
 *   npm run bench -- [--quick] [--sqlite-only] [--duration 10] [--warmup 3] [--rounds 3]
 *                    [--connections 64] [--latency-connections 8] [--scale 10000,5000000]
 *                    [--scale-pg 10000,1000000] [--pg-url postgres://…]
 *                    [--drain-messages 20000] [--only hello,sqlite,pg,better-auth,scale,drain]
 *                    [--cpu-prof]
 *
 * Every server runs in its own process; autocannon drives it over loopback
 * from this one. Results: bench/results/<timestamp>.{json,md} and latest.md.
 * See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { openStore, type Store } from '../src/store/db.js';
import { countDueMessages } from '../src/store/messages.js';
import { measureDrain } from './lib/drain.js';
import { type LoadOptions, runWorkload, type WorkloadResult } from './lib/load.js';
import { type BenchRun, label, markdown, type ScalePoint, targets } from './lib/report.js';
import { historyShape, seedHistory } from './lib/seed.js';
import {
  createTenant,
  type ServerUnderTest,
  startOtpd,
  startScript,
  temporarySqlite,
} from './lib/servers.js';
import {
  betterAuthSend,
  betterAuthVerify,
  FAMILY,
  hello,
  otpdMixed,
  otpdSend,
  otpdVerify,
} from './lib/workloads.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS = join(HERE, 'results');
const PROFILES = join(RESULTS, 'profiles');
const SECTIONS = ['hello', 'sqlite', 'pg', 'better-auth', 'scale', 'drain'] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'sqlite-only': { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '64' },
    'latency-connections': { type: 'string', default: '8' },
    scale: { type: 'string' },
    'scale-pg': { type: 'string' },
    'drain-messages': { type: 'string' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'pg-url': {
      type: 'string',
      default: process.env.OTPD_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});

const quick = values.quick;
const load: LoadOptions = {
  connections: Number(values.connections),
  warmup: Number(values.warmup ?? (quick ? 1 : 3)),
  duration: Number(values.duration ?? (quick ? 3 : 10)),
  rounds: Number(values.rounds ?? (quick ? 1 : 3)),
};
const latencyConnections = Number(values['latency-connections']);
const sqliteScales = (values.scale ?? (quick ? '1000,50000' : '10000,5000000')).split(',').map(Number);
// PostgreSQL seeds far slower than SQLite here (about 10k rows/s on 2 busy cores): 1M keeps the default run short.
const pgScales = (values['scale-pg'] ?? values.scale ?? (quick ? '1000,50000' : '10000,1000000'))
  .split(',')
  .map(Number);
const drainMessages = Number(values['drain-messages'] ?? (quick ? 2000 : 20000));
const only = new Set<Section>(
  values.only ? (values.only.split(',').map((s) => s.trim()) as Section[]) : SECTIONS,
);
for (const s of only)
  if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s} (${SECTIONS.join(', ')})`);
for (const n of [
  load.connections,
  load.warmup,
  load.duration,
  load.rounds,
  latencyConnections,
  drainMessages,
  ...sqliteScales,
  ...pgScales,
]) {
  if (!Number.isInteger(n) || n < 0) throw new Error('numeric options must be whole numbers');
}
const cpuProfDir = values['cpu-prof'] ? PROFILES : undefined;

function git(): BenchRun['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: HERE, encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], { cwd: HERE, encoding: 'utf8' }).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

const run: BenchRun = {
  startedAt: new Date().toISOString(),
  finishedAt: '',
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadStart: loadavg(),
    loadEnd: [],
  },
  git: git(),
  options: {
    ...load,
    latencyConnections,
    scales: sqliteScales,
    pgScales,
    drainMessages,
    quick,
    sections: [...only],
    cpuProf: !!cpuProfDir,
  },
  workloads: {},
  scaling: [],
  drain: [],
  skipped: [],
  profiles: [],
  logs: {},
};

/** A temporary PostgreSQL database; null (and a skip line) when the server cannot be reached. */
async function temporaryPostgres(): Promise<{ url: string; drop(): Promise<void> } | null> {
  const admin = new pg.Client({ connectionString: values['pg-url'], connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    run.skipped.push(`PostgreSQL (${(error as Error).message} at ${values['pg-url']})`);
    return null;
  }
  const name = `otpd_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(values['pg-url']!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: values['pg-url'] });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}

type Backend = 'sqlite' | 'pg';

/** A fresh database of `backend` for `fn`, removed after; skipped when PostgreSQL is not there. */
async function withDatabase(backend: Backend, fn: (url: string) => Promise<void>): Promise<void> {
  if (backend === 'sqlite') {
    const db = temporarySqlite();
    try {
      await fn(db.url);
    } finally {
      db.remove();
    }
    return;
  }
  const db = await temporaryPostgres();
  if (!db) return;
  try {
    await fn(db.url);
  } finally {
    await db.drop();
  }
}

async function withServer<T>(server: ServerUnderTest, fn: (s: ServerUnderTest) => Promise<T>): Promise<T> {
  const profilesBefore = cpuProfDir ? new Set(safeList(cpuProfDir)) : new Set<string>();
  try {
    return await fn(server);
  } finally {
    await server.stop();
    if (server.logs && Object.keys(server.logs).length > 0) run.logs[server.name] = server.logs;
    if (cpuProfDir) {
      for (const f of safeList(cpuProfDir)) {
        if (!profilesBefore.has(f)) run.profiles.push(`${server.name}: bench/results/profiles/${f}`);
      }
    }
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const record = (key: string, result: WorkloadResult) => {
  run.workloads[key] = result;
};

async function benchHello(): Promise<void> {
  console.log('\nFastify hello-world');
  await withServer(await startScript('hello', 'hello.mjs'), async (server) => {
    record('hello.send', await runWorkload(server, hello('hello-world (send-size body)', 'send'), load));
    record(
      'hello.verify',
      await runWorkload(server, hello('hello-world (verify-size body)', 'verify'), load),
    );
  });
}

/**
 * Waits until the outbox is empty: a 64-connection send queues messages faster
 * than the worker, sharing the cores, delivers them, and without this wait the
 * next workload would be measured while the worker catches up on the last.
 */
async function settled(store: Store): Promise<void> {
  const started = performance.now();
  while ((await countDueMessages(store.db)) > 0 && performance.now() - started < 180_000) {
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`  outbox drained in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function benchOtpd(backend: Backend): Promise<void> {
  console.log(`\notpd on ${label(backend)}`);
  await withDatabase(backend, async (url) => {
    await withServer(
      await startOtpd(`otpd ${label(backend)}`, { databaseUrl: url, cpuProfDir }),
      async (server) => {
        const tenant = await createTenant(server.url);
        const store = await openStore({ url, poolSize: 4 });
        try {
          const name = `otpd ${label(backend)}`;
          record(
            `${backend}.send`,
            await runWorkload(server, otpdSend(`${name} send`, tenant.key, FAMILY.send), load),
          );
          await settled(store);
          record(
            `${backend}.verify`,
            await runWorkload(
              server,
              otpdVerify(`${name} verify`, tenant.key, store, tenant, FAMILY.verify),
              load,
            ),
          );
          await settled(store);
          record(
            `${backend}.mixed`,
            await runWorkload(server, otpdMixed(`${name} send + wrong guess + verify`, tenant.key), load),
          );
          if (backend === 'sqlite') {
            await settled(store);
            record(
              `${backend}.latency`,
              await runWorkload(server, otpdSend(`${name} send`, tenant.key, FAMILY.latency), {
                ...load,
                connections: latencyConnections,
              }),
            );
          }
        } finally {
          await store.close();
        }
      },
    );
  });
}

async function benchBetterAuth(): Promise<void> {
  console.log('\nbetter-auth phone-number plugin on SQLite');
  const db = temporarySqlite();
  try {
    const server = await startScript('better-auth', 'better-auth.mjs', [db.url]);
    await withServer(server, async () => {
      record('better-auth.send', await runWorkload(server, betterAuthSend('better-auth send-otp'), load));
      record(
        'better-auth.verify',
        await runWorkload(server, betterAuthVerify('better-auth verify', server.child), load),
      );
    });
  } finally {
    db.remove();
  }
}

/** Refreshes the planner's statistics after a bulk load (autovacuum would, later). */
async function analyze(store: Store): Promise<void> {
  if (store.dialect === 'postgres') await sql`analyze`.execute(store.db);
}

async function benchScale(backend: Backend): Promise<void> {
  const scales = backend === 'pg' ? pgScales : sqliteScales;
  console.log(`\notpd on ${label(backend)} as stored OTPs grow: ${scales.join(', ')}`);
  await withDatabase(backend, async (url) => {
    await withServer(
      await startOtpd(`otpd ${label(backend)} scale`, { databaseUrl: url, cpuProfDir }),
      async (server) => {
        const tenant = await createTenant(server.url);
        const store = await openStore({ url, poolSize: 4 });
        const shape = historyShape(Math.max(...scales));
        const send = otpdSend('', tenant.key, FAMILY.send);
        const verify = otpdVerify('', tenant.key, store, tenant, FAMILY.verify);
        let stored = 0;
        try {
          for (const size of scales) {
            const seededAt = performance.now();
            let shown = 0;
            await seedHistory(store, tenant, { from: stored, to: size, ...shape }, (done) => {
              if (done - shown >= 1_000_000 || done === size) {
                console.log(`  seeded ${done.toLocaleString('en-US')} OTPs`);
                shown = done;
              }
            });
            await analyze(store);
            stored = Math.max(stored, size);
            const seedSeconds = (performance.now() - seededAt) / 1000;
            const at = `${label(backend)} at ${size.toLocaleString('en-US')} stored`;
            await settled(store);
            const sent = await runWorkload(server, { ...send, name: `${at}: send` }, load);
            await settled(store);
            const point: ScalePoint = {
              backend: label(backend),
              storedOtps: size,
              seedSeconds,
              send: sent,
              verify: await runWorkload(server, { ...verify, name: `${at}: verify` }, load),
            };
            run.scaling.push(point);
          }
        } finally {
          await store.close();
        }
      },
    );
  });
}

async function benchDrain(backend: Backend): Promise<void> {
  console.log(`\nDelivery worker drain on ${label(backend)}: ${drainMessages} messages`);
  await withDatabase(backend, async (url) => {
    const result = await measureDrain(label(backend), url, drainMessages);
    console.log(
      `  drained ${result.delivered} messages in ${result.drainSeconds.toFixed(2)} s over ${result.rounds} rounds: ${Math.round(result.perSecond)} msg/s`,
    );
    run.drain.push(result);
  });
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  const backends: Backend[] = values['sqlite-only'] ? ['sqlite'] : ['sqlite', 'pg'];
  if (values['sqlite-only']) run.skipped.push('PostgreSQL (--sqlite-only)');
  console.log(
    `otpd bench: ${load.rounds} × ${load.duration} s after ${load.warmup} s warm-up, ${load.connections} connections; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  if (only.has('hello')) await benchHello();
  for (const backend of backends) if (only.has(backend)) await benchOtpd(backend);
  if (only.has('better-auth')) await benchBetterAuth();
  if (only.has('scale')) for (const backend of backends) await benchScale(backend);
  if (only.has('drain')) for (const backend of backends) await benchDrain(backend);

  run.finishedAt = new Date().toISOString();
  run.machine.loadEnd = loadavg();
  const text = markdown(run);
  const stamp = run.startedAt.replace(/[:.]/g, '-').slice(0, 19);
  writeFileSync(
    join(RESULTS, `${stamp}.json`),
    `${JSON.stringify({ ...run, targets: targets(run) }, null, 2)}\n`,
  );
  writeFileSync(join(RESULTS, `${stamp}.md`), text);
  writeFileSync(join(RESULTS, 'latest.md'), text);
  console.log(`\n${text}`);
  console.log(`Results: bench/results/${stamp}.json, bench/results/${stamp}.md, bench/results/latest.md`);
}

await main();
