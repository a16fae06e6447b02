import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_TOKEN, backend, http, SECRET, type ServerProcess, startProcess } from '../harness.js';
import {
  BashSession,
  type Block,
  blockId,
  jsonValues,
  parseDocumentedJson,
  readBlocks,
  runProgram,
  shapeMismatches,
} from '../support/docs.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * Every fenced code block of README.md and docs/*.md (docs/dashboard.md has
 * its own tests) is executed here against a real otpd process, in the order
 * of its file, as a reader would:
 *
 * - `sh`/`bash`: in one bash session per file (what a block sets is there for
 *   the next), cwd a scratch directory whose `data/` is the process's data
 *   directory, with `otpd` (the built CLI, same database) on the PATH and
 *   OTPD_KEY, OTPD_ADMIN_TOKEN, APP_ID, ACCOUNT_ID, LIVE_KEY, LIVE_APP_ID set:
 *   the first run's (README.md, docs/quickstart.md) or a fresh account's.
 *   Every command must succeed, and every otpd answer it prints must be
 *   `success: true` unless a JSON block right after it shows otherwise.
 *   `sh postgres` blocks run with DATABASE_URL set to a fresh PostgreSQL
 *   database (skipped, visibly, when no PostgreSQL is reachable).
 * - `ts` through tsx (and type-checked with tsc), `js` through node, `python`
 *   through python3; `name=<id>` blocks are driven by the matching DRIVERS
 *   entry (the webhook verifiers get a real signed delivery).
 * - `json` right after an executed block: its values are the last values
 *   that block printed, compared in shape (see shapeMismatches). `json
 *   config` and `yaml`: `otpd check-config`. `json event`: compared with the
 *   last webhook of its type that otpd delivered. `http webhook`: its headers
 *   are those of a real delivery. Any other `json`: parsed.
 * - `<lang> no-run`: not executed; each must be listed in NO_RUN below.
 *
 * The snippets say `localhost:3000` and `https://api.example.com/otpd/events`;
 * those are replaced with the process's address and a local receiver.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'dashboard.md')
    .sort()
    .map((f) => `docs/${f}`),
];

/** Blocks that are not executed, by file, language and (the start of) their first line, with why. */
const NO_RUN = new Set<string>([
  // Installing and starting otpd, or running the whole suite: the test runs the built CLI instead.
  'README.md sh: npm install',
  'README.md sh: npm test',
  'docs/quickstart.md sh: npm install',
  'docs/operations.md sh: npm install',
  // A foreground server on another database, and a restore that stops the service (systemd).
  'docs/operations.md sh: DATABASE_URL=postgres://otpd@db/otpd OTP',
  'docs/operations.md sh: systemctl stop otpd',
  'docs/operations.md ini: [Unit]',
  // A server with a setting: the retention itself is tested in test/api/retention.test.ts.
  'docs/operations.md sh: OTPD_RETENTION_DAYS=30 otpd serve',
  // The chaos harness runs for minutes; its short form is test/cluster/chaos.test.ts.
  'docs/operations.md sh: npm run chaos',
  // Placeholders for what the first run printed (the test sets these variables itself).
  'docs/quickstart.md sh: export OTPD_KEY=otpd_test_…          # t',
  // Output, layouts and diagrams, not code: the banner is checked by "the first run prints what the README says".
  'README.md text: otpd [serve]                      start',
  'docs/quickstart.md text: First run: otpd set itself up. These sec',
  'docs/architecture.md text: src/',
  'docs/providers.md text: CON 1. Show my verification code(s)',
  'docs/templates.md text: POST /v1/templates ──► pending ──approve',
  'docs/wallet.md text: send / resend / fallback / SMS ──hold──►',
  // No PHP on the test machine; the snippet mirrors the Python verify_otpd, which runs.
  "docs/webhooks.md php: $payload = file_get_contents('php://inpu",
]);

const noRunKey = (b: Block) =>
  `${b.file} ${b.lang}: ${b.code
    .split('\n')
    .find((l) => l.trim())
    ?.trim()
    .slice(0, 40)
    .trim()}`;
const RUNNABLE = new Set(['sh', 'bash', 'ts', 'js', 'python', 'json', 'yaml', 'http', 'text']);
const FIRST_RUN_FILES = new Set(['README.md', 'docs/quickstart.md']);

interface DocEnv {
  OTPD_KEY: string;
  OTPD_ADMIN_TOKEN: string;
  APP_ID: string;
  ACCOUNT_ID: string;
  LIVE_KEY: string;
  LIVE_APP_ID: string;
}

interface Delivery {
  headers: Record<string, string>;
  body: string;
}

/**
 * Named blocks: the block is written to `<name>.<ext>`, the driver next to
 * it, and the driver's last line of output must be `expect`. Each driver
 * gets a real signed delivery (a JSON file of `{headers, body}`) as its
 * argument and OTPD_WEBHOOK_SECRET in its environment.
 */
const DRIVERS: Record<string, { ext: string; driver: string; expect: string }> = {
  'webhook-fetch': {
    ext: 'ts',
    expect: '[204,400]',
    driver: `
import { readFileSync } from 'node:fs';
import { POST } from './webhook-fetch.ts';
const d = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const post = (body: string) => POST(new Request('http://receiver.test/otpd/events', { method: 'POST', headers: d.headers, body }));
const real = await post(d.body);
const forged = await post(d.body.replace('"otp.', '"otp.x'));
console.log(JSON.stringify([real.status, forged.status]));
`,
  },
  'webhook-node': {
    ext: 'mjs',
    expect: '[204,400]',
    driver: `
import { readFileSync } from 'node:fs';
process.env.PORT = '0';
const { server } = await import('./webhook-node.mjs');
if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
const url = 'http://127.0.0.1:' + server.address().port + '/otpd/events';
const d = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const post = (body) => fetch(url, { method: 'POST', headers: d.headers, body });
const real = await post(d.body);
const forged = await post(d.body.replace('"otp.', '"otp.x'));
server.close();
console.log(JSON.stringify([real.status, forged.status]));
`,
  },
  'webhook-crypto': {
    ext: 'mjs',
    expect: '[true,false,false,false]',
    driver: `
import { readFileSync } from 'node:fs';
import { verifyOtpdSignature } from './webhook-crypto.mjs';
const d = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const secret = process.env.OTPD_WEBHOOK_SECRET;
const header = d.headers['x-otpd-signature'];
const old = header.replace(/t=(\\d+)/, (_, t) => 't=' + (Number(t) - 3600));
console.log(JSON.stringify([
  verifyOtpdSignature(secret, header, d.body),
  verifyOtpdSignature(secret, header, d.body.replace('"otp.', '"otp.x')),
  verifyOtpdSignature(secret + 'x', header, d.body),
  verifyOtpdSignature(secret, old, d.body),
]));
`,
  },
  'webhook-python': {
    ext: 'py',
    expect: '[true, false, true, false]',
    driver: `
import json, os, sys
from importlib import import_module
hook = import_module("webhook_python")
d = json.load(open(sys.argv[1]))
secret = os.environ["OTPD_WEBHOOK_SECRET"]
body = d["body"].encode()
forged = body.replace(b'"otp.', b'"otp.x')
print(json.dumps([
    hook.verify_standard(secret, d["headers"], body),
    hook.verify_standard(secret, d["headers"], forged),
    hook.verify_otpd(secret, d["headers"]["x-otpd-signature"], body),
    hook.verify_otpd(secret, d["headers"]["x-otpd-signature"], forged),
]))
`,
  },
};

const blocksByFile = FILES.map((file) => [file, readBlocks(ROOT, file)] as const);
const PG_ADMIN = process.env.OTPD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PG_NAME = `${inject('runId')}_docs`;

describe.skipIf(backend !== 'sqlite')('the snippets of the docs', () => {
  let dir: string;
  let proc: ServerProcess;
  let receiver: WebhookReceiver;
  let firstRun: DocEnv;
  let baseEnv: Record<string, string>;
  let deliveryFile: string;
  let webhookSecret: string;
  let postgresUrl: string | undefined;
  const executed = new Set<string>();
  /** What each executed block printed, for the JSON (or `text output`) block after it. */
  const printed = new Map<string, { stdout: string; values: unknown[] }>();

  const substitute = (code: string) =>
    code
      .replaceAll('http://localhost:3000', proc.url)
      .replaceAll('localhost:3000', proc.url.replace('http://', ''))
      .replaceAll('https://api.example.com/otpd/events', receiver.url('/otpd/events'));

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await http(`${proc.url}/admin/v1${path}`, method, { key: ADMIN_TOKEN, body });
    expect(res.body.success, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(true);
    return res.body.data;
  };

  /** A fresh account with a sandbox app "Shop" and a live app, each with a key. */
  const freshTenant = async (): Promise<DocEnv> => {
    const account = await admin('POST', '/accounts', { name: 'Docs' });
    const sandbox = await admin('POST', '/apps', {
      account_id: account.id,
      name: 'Shop',
      environment: 'sandbox',
    });
    const live = await admin('POST', '/apps', { account_id: account.id, name: 'Shop', environment: 'live' });
    return {
      OTPD_KEY: (await admin('POST', `/apps/${sandbox.id}/keys`)).secret,
      OTPD_ADMIN_TOKEN: ADMIN_TOKEN,
      APP_ID: sandbox.id,
      ACCOUNT_ID: account.id,
      LIVE_KEY: (await admin('POST', `/apps/${live.id}/keys`)).secret,
      LIVE_APP_ID: live.id,
    };
  };

  const until = async <T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'otpd-docs-'));
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'bin'));
    // Snippets import '@otpd/client' and 'standardwebhooks' as an installed package would.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
    writeFileSync(
      join(dir, 'bin', 'otpd'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'dist/cli/main.js')}" "$@"\n`,
    );
    chmodSync(join(dir, 'bin', 'otpd'), 0o755);

    proc = await startProcess(join(dir, 'data', 'otpd.db'), {
      OTPD_DATA_DIR: join(dir, 'data'),
      OTPD_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    receiver = await WebhookReceiver.start();

    const out = proc.output();
    const field = (pattern: RegExp) => {
      const m = pattern.exec(out);
      if (!m) throw new Error(`no ${pattern} in the first-run banner:\n${out}`);
      return m[1]!;
    };
    firstRun = {
      OTPD_KEY: field(/export OTPD_KEY=(otpd_test_\w+)/),
      OTPD_ADMIN_TOKEN: field(/operator token\s+(\S+)/),
      APP_ID: field(/sandbox app\s+(app_\w+)/),
      ACCOUNT_ID: field(/account\s+(acc_\w+)/),
      LIVE_KEY: field(/live app\s+app_\w+\s+key (otpd_live_\w+)/),
      LIVE_APP_ID: field(/live app\s+(app_\w+)/),
    };

    // A real signed delivery for the webhook verifiers, from an app of its own.
    const hooks = await freshTenant();
    const endpoint = await admin('POST', `/apps/${hooks.APP_ID}/webhooks`, {
      url: receiver.url('/drivers'),
      events: ['otp.sent'],
    });
    webhookSecret = endpoint.secret;
    const sent = await http(`${proc.url}/v1/otp/send`, 'POST', {
      key: hooks.OTPD_KEY,
      body: { phone: '+9779800000001' },
    });
    expect(sent.status).toBe(201);
    const delivery = await until('a webhook delivery', () =>
      receiver.received.find((r) => r.path === '/drivers'),
    );
    const names = [
      'content-type',
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
      'x-otpd-signature',
    ];
    const d: Delivery = {
      headers: Object.fromEntries(names.map((n) => [n, delivery.headers[n]!])),
      body: delivery.body,
    };
    deliveryFile = join(dir, 'delivery.json');
    writeFileSync(deliveryFile, JSON.stringify(d));

    baseEnv = {
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      HOME: process.env.HOME ?? dir,
      LANG: 'C.UTF-8',
      OTPD_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      OTPD_WEBHOOK_SECRET: webhookSecret,
    };

    // `sh postgres` blocks get a database of their own, when PostgreSQL is there
    // (named after the run, so the global teardown drops it should this file crash).
    const client = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query(`create database "${PG_NAME}"`);
      postgresUrl = PG_ADMIN.replace(/\/[^/]*$/, `/${PG_NAME}`);
    } catch {
      postgresUrl = undefined;
    } finally {
      await client.end().catch(() => {});
    }
  }, 60_000);

  afterAll(async () => {
    if (postgresUrl) {
      const client = new pg.Client({ connectionString: PG_ADMIN });
      await client.connect();
      await client.query(`drop database if exists "${PG_NAME}" with (force)`);
      await client.end();
    }
    await proc?.stop();
    await receiver?.close();
    // KEEP_DOCS_DIR=1 leaves the scratch directory (the blocks, their output, data/) to look at.
    if (dir && !process.env.KEEP_DOCS_DIR) rmSync(dir, { recursive: true, force: true });
  });

  it('the first run prints what the README says', () => {
    const out = proc.output();
    expect(out).toContain('First run');
    for (const what of ['operator token', 'account', 'sandbox app', 'live app', 'export OTPD_KEY=otpd_test_'])
      expect(out).toContain(what);
  });

  for (const [file, blocks] of blocksByFile.filter(([, blocks]) => blocks.length > 0)) {
    describe(file, () => {
      let shell: BashSession | undefined;
      let env: Record<string, string>;

      beforeAll(async () => {
        const docEnv = FIRST_RUN_FILES.has(file) ? firstRun : await freshTenant();
        env = { ...baseEnv, ...docEnv };
      });
      afterAll(() => shell?.close());

      const bash = () => {
        shell ??= new BashSession(dir, env);
        return shell;
      };

      /** Writes a script file (Python modules take `_` for `-`). */
      const writeScript = (name: string, ext: string, code: string) => {
        const path = join(dir, `${ext === 'py' ? name.replaceAll('-', '_') : name}.${ext}`);
        writeFileSync(path, code);
        return path;
      };

      /** Runs a script file of a snippet: tsx, node or python3. */
      const runScript = async (name: string, ext: string, code: string, args: string[] = []) => {
        const path = writeScript(name, ext, code);
        const [command, ...pre] =
          ext === 'ts'
            ? [process.execPath, join(ROOT, 'node_modules/tsx/dist/cli.mjs')]
            : ext === 'py'
              ? ['python3']
              : [process.execPath];
        const result = await runProgram(command!, [...pre, path, ...args], { cwd: dir, env });
        expect(result.status, `${name}.${ext} failed:\n${result.stderr}\n${result.stdout}`).toBe(0);
        return result.stdout;
      };

      /** Checks what an executed block printed: otpd's answers succeeded, unless the JSON after it says not. */
      const record = (block: Block, output: string) => {
        const values = jsonValues(output);
        printed.set(blockId(block), { stdout: output, values });
        const answer = blocks.find((b) => b.follows === block && b.lang === 'json' && b.attrs.length === 0);
        const shown = answer ? parseDocumentedJson(answer.code).length : 0;
        const unexplained = values
          .slice(0, values.length - shown)
          .filter((v) => (v as { success?: unknown })?.success === false);
        expect(unexplained, `an answer failed:\n${output}`).toEqual([]);
      };

      const checkConfig = async (block: Block, ext: string) => {
        const path = join(dir, `config-${block.line}.${ext}`);
        writeFileSync(path, block.code);
        const configEnv = { ...env };
        for (const [, name] of block.code.matchAll(/env:([A-Za-z_][A-Za-z0-9_]*)/g))
          configEnv[name!] = name!.endsWith('_URL')
            ? 'https://gateway.example/send?to={phone_digits}&text={text}'
            : `docs-test-${name}-0123456789abcdef`;
        const result = await runProgram('otpd', ['check-config', path], { cwd: dir, env: configEnv });
        expect(result.status, `otpd check-config:\n${result.stderr}`).toBe(0);
        expect(result.stdout).toContain('is valid.');
      };

      for (const block of blocks) {
        const title = `line ${block.line}: ${block.lang || '(no language)'} ${block.attrs.join(' ')}`.trim();
        if (block.attrs.includes('no-run')) {
          it(`${title} (not run)`, () => {
            expect(NO_RUN, `not listed in NO_RUN: ${noRunKey(block)}`).toContain(noRunKey(block));
            executed.add(blockId(block));
          });
          continue;
        }
        const needsPostgres = block.attrs.includes('postgres');
        it(title, async (context) => {
          expect(RUNNABLE, `tag it \`${block.lang} no-run\` or make it runnable`).toContain(block.lang);
          if (needsPostgres && !postgresUrl) context.skip();
          if (block.name) {
            const driver = DRIVERS[block.name];
            expect(driver, `no driver for name=${block.name}`).toBeDefined();
            writeScript(block.name, driver!.ext, substitute(block.code));
            const out = await runScript(`drive-${block.name}`, driver!.ext, driver!.driver, [deliveryFile]);
            expect(out.trim().split('\n').at(-1)).toBe(driver!.expect);
          } else if (block.lang === 'sh' || block.lang === 'bash') {
            const code = needsPostgres ? `export DATABASE_URL='${postgresUrl}'\n${block.code}` : block.code;
            const result = await bash().run(substitute(code));
            const report = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
            expect(result.failed, `a command failed: ${result.failed}\n${report}`).toBeUndefined();
            expect(result.status, report).toBe(0);
            if (needsPostgres) await bash().run('unset DATABASE_URL\n');
            record(block, result.stdout);
          } else if (block.lang === 'ts' || block.lang === 'js' || block.lang === 'python') {
            const ext = { ts: 'ts', js: 'mjs', python: 'py' }[block.lang];
            record(block, await runScript(`snippet-${block.line}`, ext, substitute(block.code)));
          } else if (block.lang === 'yaml') {
            await checkConfig(block, 'yaml');
          } else if (block.lang === 'json' && block.attrs.includes('config')) {
            await checkConfig(block, 'json');
          } else if (block.lang === 'json' && block.attrs.includes('event')) {
            const doc = JSON.parse(block.code) as { type: string };
            // The dispatcher delivers within a second or so of the change.
            const real = await until(`a ${doc.type} webhook for this doc's app`, () =>
              [...receiver.received]
                .reverse()
                .map((r) => JSON.parse(r.body))
                .find((e) => e.type === doc.type && e.app.app_id === env.APP_ID),
            );
            expect(shapeMismatches(doc, real)).toEqual([]);
          } else if (block.lang === 'json') {
            const doc = parseDocumentedJson(substitute(block.code));
            if (block.follows && printed.has(blockId(block.follows))) {
              const { values } = printed.get(blockId(block.follows))!;
              expect(values.length, 'the block before printed fewer JSON values').toBeGreaterThanOrEqual(
                doc.length,
              );
              const real = values.slice(values.length - doc.length);
              expect(doc.flatMap((d, i) => shapeMismatches(d, real[i], `answer ${i}`))).toEqual([]);
            }
          } else if (block.lang === 'text' && block.attrs.includes('output')) {
            const before = block.follows && printed.get(blockId(block.follows));
            expect(before, 'a `text output` block must follow an executed block').toBeDefined();
            expect(before!.stdout.trim()).toBe(block.code.trim());
          } else if (block.lang === 'http' && block.attrs.includes('webhook')) {
            const last = receiver.received.at(-1);
            expect(last, 'no webhook was delivered yet').toBeDefined();
            for (const line of block.code.split('\n').slice(1)) {
              const header = /^([\w-]+): (.*)$/.exec(line);
              if (!header) continue;
              const real = last!.headers[header[1]!.toLowerCase()];
              expect(real, `header ${header[1]}`).toBeDefined();
              if (/^(content-type|user-agent)$/i.test(header[1]!)) expect(real).toContain(header[2]);
            }
          } else {
            expect.fail(`no way to run ${block.lang} ${block.attrs.join(' ')}`);
          }
          executed.add(blockId(block));
        });
      }
    });
  }

  it('type-checks every TypeScript block', () => {
    const check = join(dir, 'tscheck');
    mkdirSync(check, { recursive: true });
    writeFileSync(join(check, 'package.json'), '{"type": "module"}');
    const ts = blocksByFile
      .flatMap(([, blocks]) => blocks)
      .filter((b) => b.lang === 'ts' && !b.attrs.includes('no-run'));
    for (const b of ts) writeFileSync(join(check, `${b.file.replace(/\W/g, '_')}_${b.line}.ts`), b.code);
    writeFileSync(
      join(check, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        include: ['*.ts'],
      }),
    );
    symlinkSync(join(ROOT, 'node_modules'), join(check, 'node_modules'), 'dir');
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', check], {
        encoding: 'utf8',
      });
    } catch (error) {
      expect.fail(`TypeScript blocks do not type-check:\n${(error as { stdout: string }).stdout}`);
    }
  });

  it('ran every block that is not marked no-run, and NO_RUN lists only blocks that exist', () => {
    const all = blocksByFile.flatMap(([, blocks]) => blocks);
    const missed = all
      .filter((b) => !executed.has(blockId(b)))
      .filter((b) => !(b.attrs.includes('postgres') && !postgresUrl))
      .map(blockId);
    expect(missed).toEqual([]);
    const marked = new Set(all.filter((b) => b.attrs.includes('no-run')).map(noRunKey));
    expect([...NO_RUN].filter((k) => !marked.has(k))).toEqual([]);
  });
});
