import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/db.js';
import { TestSmsc } from '../support/smsc.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { ChaosDriver } from './chaos.js';
import { checkInvariants, type InvariantResult, settle } from './invariants.js';
import { LoadGenerator, TEMPLATE_BODY } from './load.js';
import { PrivatePostgres } from './pg-cluster.js';
import { seededRandom } from './ports.js';
import { ADMIN_TOKEN, OtpdSlot, type UnexpectedExit } from './processes.js';

export interface ChaosRunOptions {
  backend: 'sqlite' | 'postgres';
  /** SIGKILLs over the run. */
  kills: number;
  /** otpd processes (PostgreSQL; SQLite runs one). */
  processes: number;
  seed: number;
  /** How long the load runs while the kills happen. */
  durationMs: number;
  /** Flows running at once. */
  concurrency: number;
  /** How long the system may take to settle once the chaos stops. */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  backend: string;
  seed: number;
  processes: number;
  figures: Record<string, number>;
  /** What was still open when settling gave up (empty when it settled). */
  unsettled: string[];
  invariants: InvariantResult[];
  ok: boolean;
}

const PRICE = 1_000;
const TOP_UP = 1_000_000_000;

/**
 * One chaos run: a loopback SMSC and webhook receiver, otpd processes (the
 * built CLI) on a fresh database, a live app that pays for its messages,
 * an approved template and a webhook endpoint; load while processes are
 * SIGKILLed (and PostgreSQL crashed once); then settle and judge.
 */
export async function runChaos(options: ChaosRunOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const processes = options.backend === 'sqlite' ? 1 : options.processes;
  const unreachable = new Set<string>();
  const dir = mkdtempSync(join(tmpdir(), 'otpd-chaos-'));
  const smsc = await TestSmsc.start({
    accounts: { otpd: 'smpp-secret' },
    receiptDelayMs: 20,
    receiptStat: (submit) => (unreachable.has(submit.destination_addr) ? 'UNDELIV' : 'DELIVRD'),
  });
  const receiver = await WebhookReceiver.start();
  let postgres: PrivatePostgres | undefined;
  const slots: OtpdSlot[] = [];
  const unexpectedExits: UnexpectedExit[] = [];
  try {
    let databaseUrl: string;
    const sqliteFile = join(dir, 'otpd.db');
    if (options.backend === 'postgres') {
      postgres = await PrivatePostgres.start();
      databaseUrl = await postgres.createDatabase('otpd_chaos');
    } else databaseUrl = sqliteFile;
    const configFile = join(dir, 'delivery.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        lease: 4,
        reconcile_after: 10,
        providers: {
          smsc: {
            type: 'smpp',
            host: '127.0.0.1',
            port: smsc.port,
            system_id: 'otpd',
            password: 'smpp-secret',
            source_addr: 'OTPD',
            window: 32,
            throughput: 5000,
            timeout: 1,
            resend_after_silence: true,
          },
        },
        routes: [{ channel: 'sms', providers: ['smsc'] }],
      }),
    );
    const env = {
      DATABASE_URL: databaseUrl,
      OTPD_CONFIG: configFile,
      OTPD_WEBHOOK_ALLOW_PRIVATE: 'true',
      OTPD_WEBHOOK_RETRY_SCHEDULE: '1,1,2,2,3,3,5,5,5',
    };
    for (let i = 0; i < processes; i++) {
      const slot = await OtpdSlot.create(i, env, unexpectedExits);
      await slot.start();
      slots.push(slot);
    }
    const setup = await configure(slots[0]!.url, receiver);
    log(`${options.backend}: ${processes} process(es) up, app ${setup.appId}`);

    const load = new LoadGenerator({
      urls: slots.map((s) => s.url),
      key: setup.key,
      templateId: setup.templateId,
      smsc,
      unreachable,
      concurrency: options.concurrency,
      random,
      phonePrefix: String(options.seed % 10),
    });
    const chaos = new ChaosDriver({
      slots,
      kills: options.kills,
      durationMs: options.durationMs,
      random,
      ...(options.backend === 'sqlite' ? { sqliteFile } : {}),
      ...(postgres ? { postgres } : {}),
      log,
    });
    const started = Date.now();
    load.start();
    await chaos.run();
    await load.stop();
    await chaos.stop();
    const chaosMs = Date.now() - started;
    log(`chaos over after ${chaosMs} ms: ${chaos.kills} kills; settling`);

    const store = await openStore({ url: databaseUrl });
    try {
      const receivedIds = () => new Set(receiver.ids());
      const settleMs = options.settleMs ?? 90_000;
      const first = await settle(store, setup.appId, receivedIds, settleMs);
      let unsettled = first.open;
      const invariants = await checkInvariants({
        store,
        appId: setup.appId,
        accountId: setup.accountId,
        records: load.records,
        load,
        smsc,
        received: receiver.received,
        webhookSecret: setup.webhookSecret,
        unreachable,
        unexpectedExits,
        killedAt: chaos.killedAt,
        afterProbe: async () => {
          unsettled = (await settle(store, setup.appId, receivedIds, settleMs)).open;
        },
        ...(options.backend === 'sqlite' ? { integrity: chaos.integrity } : {}),
      });
      const db = store.db;
      const messages = await db
        .selectFrom('messages')
        .select(['status'])
        .where('app_id', '=', setup.appId)
        .execute();
      const events = await db
        .selectFrom('webhook_events')
        .select('id')
        .where('app_id', '=', setup.appId)
        .execute();
      const r = load.records;
      const figures: Record<string, number> = {
        kills: chaos.kills,
        'PG restarts': postgres?.restarts ?? 0,
        'unexpected exits': unexpectedExits.length,
        'chaos ms': chaosMs,
        'settle ms': first.ms,
        'OTPs sent (acknowledged)': r.sends.size,
        'OTPs verified (acknowledged)': r.verifies.filter((v) => v.outcome === 'verified').length,
        'verify answers': r.verifies.length,
        'resends (acknowledged)': [...r.resends.values()].reduce((s, n) => s + n, 0),
        'template SMS (acknowledged)': r.sms.size,
        'requests unacknowledged': r.unacknowledged,
        'requests total': r.requests,
        'HTTP tries': r.tries,
        messages: messages.length,
        'messages delivered': messages.filter((m) => m.status === 'delivered').length,
        'messages failed': messages.filter((m) => m.status === 'failed').length,
        'SMSC submits accepted': smsc.submits.filter((s) => s.message_id !== null).length,
        'webhook events': events.length,
        'webhook requests received': receiver.received.length,
        ...(options.backend === 'sqlite' ? { 'integrity checks': chaos.integrity.length } : {}),
      };
      for (const [answer, n] of Object.entries(r.unexpected)) figures[`other answers: ${answer}`] = n;
      return {
        backend: options.backend,
        seed: options.seed,
        processes,
        figures,
        unsettled,
        invariants,
        ok: invariants.every((i) => i.violations.length === 0),
      };
    } finally {
      await store.close();
    }
  } finally {
    for (const slot of slots) await slot.kill('SIGTERM').catch(() => {});
    await smsc.close();
    await receiver.close();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The tenant under test: a live app paying per SMS, an approved template, a webhook endpoint. */
async function configure(url: string, receiver: WebhookReceiver) {
  const call = async (method: string, path: string, body?: unknown, key = ADMIN_TOKEN) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json.data;
  };
  const account = await call('POST', '/admin/v1/accounts', { name: 'Chaos', currency: 'CHS' });
  const app = await call('POST', '/admin/v1/apps', {
    account_id: account.id,
    name: 'Chaos app',
    environment: 'live',
    expiry: 3600,
    max_attempts: 3,
    resend_cooldown: 0,
    message: 'Chaos: your code is {code}.',
    limits: {
      phone_hour: { max: 1000, window: 3600 },
      phone_day: { max: 1000, window: 86400 },
      key_minute: { max: 1_000_000, window: 60 },
      key_day: { max: 1_000_000, window: 86400 },
      sms_phone_template_hour: { max: 1000, window: 3600 },
      sms_key_day: { max: 1_000_000, window: 86400 },
    },
  });
  const key = (await call('POST', `/admin/v1/apps/${app.id}/keys`)).secret as string;
  await call('PUT', '/admin/v1/prices', { currency: 'CHS', channel: 'sms', country: '*', price: PRICE });
  await call('POST', `/admin/v1/accounts/${account.id}/topups`, { amount: TOP_UP, reference: 'chaos' });
  const endpoint = await call('POST', `/admin/v1/apps/${app.id}/webhooks`, { url: receiver.url('/chaos') });
  const template = await call(
    'POST',
    '/v1/templates',
    {
      name: 'Order shipped',
      body: TEMPLATE_BODY,
      use_case: 'One notice per order when it leaves the warehouse.',
    },
    key,
  );
  await call('POST', `/admin/v1/templates/${template.template_id}/approve`);
  return {
    accountId: account.id as string,
    appId: app.id as string,
    key,
    templateId: template.template_id as string,
    webhookSecret: endpoint.secret as string,
  };
}
