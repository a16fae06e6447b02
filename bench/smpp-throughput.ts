/**
 * SMPP throughput: how many messages per second otpd's delivery worker
 * submits to a local SMSC over one bind.
 *
 *   npm run bench:smpp -- [--messages 20000] [--window 128] [--throughput 10000] [--batch 200] [--receipts]
 *
 * Queues the messages straight into the outbox (the services' queueMessage),
 * then times the worker draining them all: claim, submit over SMPP, record.
 * The SMSC (test/support/smsc.ts) runs in a child process so it does not
 * share otpd's event loop; `--receipts` makes it send a DELIVRD receipt for
 * each message, which otpd records while it keeps submitting. SQLite on a
 * temporary file always; PostgreSQL too when DATABASE_URL is set (in a
 * temporary database created there and dropped after).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import type { Context } from '../src/context.js';
import { systemClock } from '../src/core/clock.js';
import { deriveKeyring } from '../src/core/crypto.js';
import { checkDeliveryConfig } from '../src/delivery/config.js';
import { queueMessage } from '../src/delivery/outbox.js';
import { smppProvider } from '../src/delivery/providers/smpp.js';
import { buildDelivery, PROVIDER_SCHEMAS } from '../src/delivery/registry.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import { openStore } from '../src/store/db.js';
import { createAccount } from '../src/tenancy/accounts.js';
import { createApp } from '../src/tenancy/apps.js';
import { TestSmsc } from '../test/support/smsc.js';

const ACCOUNT = { system_id: 'bench', password: 'bench-pw' };

interface SmscCounts {
  submits: number;
  destinations: number;
}

// --- The SMSC, in its own process ---

async function serveSmsc(receipts: boolean): Promise<void> {
  const smsc = await TestSmsc.start({
    accounts: { [ACCOUNT.system_id]: ACCOUNT.password },
    receiptStat: receipts ? () => 'DELIVRD' : () => null,
  });
  process.on('message', (request) => {
    if (request === 'count') {
      const counts: SmscCounts = {
        submits: smsc.submits.length,
        destinations: new Set(smsc.submits.map((s) => s.destination_addr)).size,
      };
      process.send!(counts);
    }
  });
  process.on('disconnect', () => void smsc.close().then(() => process.exit(0)));
  process.send!({ port: smsc.port });
}

function startSmsc(receipts: boolean): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--smsc', ...(receipts ? ['--receipts'] : [])], {
    execArgv: process.execArgv,
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, port: (m as { port: number }).port }));
    child.once('exit', (code) => reject(new Error(`the SMSC exited with ${code}`)));
  });
}

function countAtSmsc(child: ChildProcess): Promise<SmscCounts> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as SmscCounts));
    child.send('count');
  });
}

// --- otpd ---

function providerSettings(port: number, options: Pick<Options, 'window' | 'throughput'>) {
  return {
    type: 'smpp',
    host: '127.0.0.1',
    port,
    system_id: ACCOUNT.system_id,
    password: ACCOUNT.password,
    source_addr: 'OTPD',
    window: options.window,
    throughput: options.throughput,
  };
}

/** The SMPP provider alone, driven as the worker drives it (`concurrency` lanes, ready then send), no database. */
async function runProviderAlone(
  smsc: { child: ChildProcess; port: number },
  options: Omit<Options, 'prefix'>,
) {
  const config = checkDeliveryConfig(
    {
      providers: { smsc: providerSettings(smsc.port, options) },
      routes: [{ channel: 'sms', providers: ['smsc'] }],
    },
    PROVIDER_SCHEMAS,
  );
  const settings = config.providers.smsc! as Parameters<typeof smppProvider.create>[1];
  const provider = smppProvider.create('smsc', settings, {
    receipts: async () => {},
    log: pino({ level: 'warn' }),
    callbackUrl: null,
    now: () => Date.now(),
    sign: (value) => value,
    verify: () => false,
  });
  await provider.start!();
  const before = await countAtSmsc(smsc.child);
  const startedAt = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: provider.concurrency! }, async () => {
      while (next < options.messages) {
        const i = next++;
        await provider.ready!();
        await provider.send({
          id: `msg_${i}`,
          app_id: 'app_bench',
          otp_id: null,
          environment: 'live',
          channel: 'sms',
          phone: `+97796${String(i).padStart(8, '0')}`,
          sender_id: null,
          text: `Your Bench verification code is ${String(i % 1_000_000).padStart(6, '0')}. It expires in 5 minutes.`,
          code: null,
          locale: null,
        });
      }
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  await provider.close!();
  const after = await countAtSmsc(smsc.child);
  console.log(
    `SMPP provider alone (no database): ${after.submits - before.submits} submits in ${seconds.toFixed(2)} s: ${Math.round((after.submits - before.submits) / seconds)} messages/s`,
  );
}

interface Options {
  /** Each run sends to its own numbers (`+977` + prefix + 8 digits), so the SMSC's counts tell runs apart. */
  prefix: string;
  messages: number;
  window: number;
  throughput: number;
  batch: number;
  /** The SMSC sends receipts: also time until every message is recorded delivered. */
  receipts: boolean;
}

async function run(
  label: string,
  url: string,
  smsc: { child: ChildProcess; port: number },
  options: Options,
): Promise<void> {
  const store = await openStore({ url, poolSize: 20 });
  const ctx: Context = {
    store,
    clock: systemClock,
    keyring: deriveKeyring(randomBytes(32).toString('hex')),
    log: pino({ level: 'warn' }),
    wakeDelivery: () => {},
  };
  const account = await createAccount(ctx, { name: 'Bench' });
  const app = await createApp(ctx, { account_id: account.id, name: 'Bench', environment: 'live' });

  const queuedAt = performance.now();
  for (let start = 0; start < options.messages; start += 1000) {
    const now = ctx.clock.now();
    await store.tx(async (trx) => {
      for (let i = start; i < Math.min(start + 1000, options.messages); i++) {
        const code = String(randomInt(1_000_000)).padStart(6, '0');
        await queueMessage(trx, ctx.keyring, now, {
          account_id: account.id,
          app_id: app.id,
          otp_id: null,
          environment: 'live',
          channel: 'sms',
          phone: `+977${options.prefix}${String(i).padStart(8, '0')}`,
          country: 'NP',
          sender_id: null,
          text: `Your Bench verification code is ${code}. It expires in 5 minutes.`,
          code,
        });
      }
    });
  }
  const queueSeconds = (performance.now() - queuedAt) / 1000;

  const config = checkDeliveryConfig(
    {
      providers: { smsc: providerSettings(smsc.port, options) },
      routes: [{ channel: 'sms', providers: ['smsc'] }],
    },
    PROVIDER_SCHEMAS,
  );
  const delivery = buildDelivery(ctx, config);
  await delivery.start();
  const worker = new DeliveryWorker(ctx, (m) => delivery.router.providersFor(m), { batch: options.batch });
  const before = await countAtSmsc(smsc.child);

  const startedAt = performance.now();
  let rounds = 0;
  while ((await worker.drainOnce()) > 0) rounds++;
  const seconds = (performance.now() - startedAt) / 1000;

  const after = await countAtSmsc(smsc.child);
  const count = async (statuses: string[]) =>
    Number(
      (
        await store.db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('app_id', '=', app.id)
          .where('status', 'in', statuses)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const sent = { n: await count(['sent', 'delivered']) };
  // With receipts: until every message is recorded delivered (or 60 s pass).
  let delivered = 0;
  let settledSeconds = seconds;
  if (options.receipts) {
    const deadline = performance.now() + 60_000;
    while ((delivered = await count(['delivered'])) < options.messages && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    settledSeconds = (performance.now() - startedAt) / 1000;
  }
  await delivery.close();
  await store.close();

  const submitted = after.submits - before.submits;
  console.log(
    [
      `${label}: ${options.messages} messages queued in ${queueSeconds.toFixed(1)} s`,
      `  drained in ${seconds.toFixed(2)} s over ${rounds} rounds: ${Math.round(submitted / seconds)} messages/s submitted over one bind`,
      `  SMSC got ${submitted} submits for ${after.destinations - before.destinations} numbers; ${Number(sent.n)} messages recorded sent`,
      ...(options.receipts
        ? [
            `  ${delivered} receipts recorded delivered ${settledSeconds.toFixed(2)} s after the start: ${Math.round(delivered / settledSeconds)} messages/s end to end`,
          ]
        : []),
    ].join('\n'),
  );
  if (submitted !== options.messages || Number(sent.n) !== options.messages) {
    console.error(`${label}: expected ${options.messages} submits and sent messages`);
    process.exitCode = 1;
  }
}

/** A temporary database on the server DATABASE_URL names; dropped by the returned function. */
async function temporaryPostgres(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `otpd_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      // The bench's pool has just closed; its backends may take a moment to go.
      for (let attempt = 0; ; attempt++) {
        try {
          await c.query(`drop database if exists "${name}"`);
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== '55006' || attempt === 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await c.end();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smsc: { type: 'boolean', default: false },
      receipts: { type: 'boolean', default: false },
      messages: { type: 'string', default: '20000' },
      window: { type: 'string', default: '128' },
      throughput: { type: 'string', default: '10000' },
      batch: { type: 'string', default: '200' },
    },
  });
  if (values.smsc) return serveSmsc(values.receipts);
  const options: Omit<Options, 'prefix'> = {
    messages: Number(values.messages),
    window: Number(values.window),
    throughput: Number(values.throughput),
    batch: Number(values.batch),
    receipts: values.receipts,
  };
  console.log(
    `SMPP throughput: window ${options.window}, throughput setting ${options.throughput}/s, worker batch ${options.batch}, receipts ${values.receipts ? 'on' : 'off'}`,
  );
  const smsc = await startSmsc(values.receipts);
  try {
    await runProviderAlone(smsc, options);
    const dir = mkdtempSync(join(tmpdir(), 'otpd-bench-'));
    try {
      await run('SQLite', join(dir, 'otpd.db'), smsc, { ...options, prefix: '98' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (process.env.DATABASE_URL) {
      const database = await temporaryPostgres(process.env.DATABASE_URL);
      try {
        await run('PostgreSQL', database.url, smsc, { ...options, prefix: '97' });
      } finally {
        await database.drop();
      }
    }
  } finally {
    smsc.child.disconnect();
  }
}

await main();
