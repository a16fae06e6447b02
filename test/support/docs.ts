import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Helpers for test/docs/snippets.test.ts: the fenced code blocks of the
 * docs, a persistent bash session to run the shell ones in (as a reader
 * pasting them into one terminal), and a shape comparison of a documented
 * JSON answer with the real one.
 */

/** One fenced code block of a Markdown file. */
export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The first word of the info string (`sh`, `json`, …); '' when there is none. */
  lang: string;
  /** The other words of the info string (`no-run`, `config`, `name=webhook-node`, …). */
  attrs: string[];
  /** `name=<id>`: a block the test drives by name. */
  name: string | undefined;
  code: string;
  /** The block just before this one when only blank lines separate them. */
  follows: Block | undefined;
}

export const blockId = (b: Block) => `${b.file}:${b.line}`;

/** The fenced blocks of `text` (``` or ~~~ fences, at any indentation), in order. */
export function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let lastEnd = -10;
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      if (line.trim().startsWith(fence!) && line.trim().replace(/[`~]/g, '') === '') break;
      body.push(line.startsWith(indent!) ? line.slice(indent!.length) : line);
    }
    const [lang = '', ...attrs] = info!.trim().split(/\s+/).filter(Boolean);
    const between = lines.slice(lastEnd + 1, i);
    const previous = blocks.at(-1);
    const block: Block = {
      file,
      line: i + 1,
      lang,
      attrs,
      name: attrs.find((a) => a.startsWith('name='))?.slice('name='.length),
      code: `${body.join('\n')}\n`,
      follows: previous && between.every((l) => l.trim() === '') ? previous : undefined,
    };
    blocks.push(block);
    lastEnd = j;
    i = j;
  }
  return blocks;
}

export function readBlocks(root: string, file: string): Block[] {
  return extractBlocks(file, readFileSync(join(root, file), 'utf8'));
}

/**
 * Every JSON object or array in `text`, in order, skipping what is not JSON
 * (curl prints answers back to back, without newlines; other tools print
 * plain lines in between).
 */
export function jsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '{' && c !== '[') {
      i++;
      continue;
    }
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < text.length; j++) {
      const d = text[j];
      if (inString) {
        if (d === '\\') j++;
        else if (d === '"') inString = false;
      } else if (d === '"') inString = true;
      else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    try {
      values.push(JSON.parse(text.slice(i, j + 1)));
      i = j + 1;
    } catch {
      i++;
    }
  }
  return values;
}

/** A documented JSON block: one JSON document, or one per line (JSON Lines). */
export function parseDocumentedJson(code: string): unknown[] {
  try {
    return [JSON.parse(code)];
  } catch {
    return code
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l));
  }
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const ID = /^([a-z]+)_[0-9A-Za-z]{16,}$/;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Where `real` differs from the documented `doc`, as "path: why" lines.
 * The documented answer is a subset: every key it shows must be there with
 * a matching value; the real answer may have more. A string with `…` is a
 * pattern (`otp_…` matches any OTP id); an id (`otp_0Vbj…` spelled out) or
 * an ISO time matches any of its kind; every other value must be equal.
 * An array shows the first elements of the real one.
 */
export function shapeMismatches(doc: unknown, real: unknown, path = '$'): string[] {
  const show = (v: unknown) => JSON.stringify(v)?.slice(0, 80);
  if (typeof doc === 'string') {
    if (typeof real !== 'string') return [`${path}: expected a string like ${show(doc)}, got ${show(real)}`];
    if (doc.includes('…')) {
      const pattern = new RegExp(`^${doc.split('…').map(escapeRegExp).join('[\\s\\S]*')}$`);
      return pattern.test(real) ? [] : [`${path}: ${show(real)} does not match ${show(doc)}`];
    }
    if (ISO_TIME.test(doc)) return ISO_TIME.test(real) ? [] : [`${path}: ${show(real)} is not an ISO time`];
    const id = ID.exec(doc);
    if (id && !/^(otpd|whsec)$/.test(id[1]!)) {
      return new RegExp(`^${id[1]}_[0-9A-Za-z]+$`).test(real)
        ? []
        : [`${path}: ${show(real)} is not a ${id[1]}_ id`];
    }
    return doc === real ? [] : [`${path}: ${show(real)} instead of ${show(doc)}`];
  }
  if (Array.isArray(doc)) {
    if (!Array.isArray(real)) return [`${path}: expected an array, got ${show(real)}`];
    if (real.length < doc.length) return [`${path}: ${real.length} elements, the doc shows ${doc.length}`];
    return doc.flatMap((d, i) => shapeMismatches(d, real[i], `${path}[${i}]`));
  }
  if (doc !== null && typeof doc === 'object') {
    if (real === null || typeof real !== 'object' || Array.isArray(real))
      return [`${path}: expected an object, got ${show(real)}`];
    return Object.entries(doc).flatMap(([k, v]) =>
      k in real
        ? shapeMismatches(v, (real as Record<string, unknown>)[k], `${path}.${k}`)
        : [`${path}.${k}: missing in the real answer`],
    );
  }
  return Object.is(doc, real) ? [] : [`${path}: ${show(real)} instead of ${show(doc)}`];
}

export interface ShellResult {
  stdout: string;
  stderr: string;
  /** The status of the block's last command. */
  status: number;
  /** The first command of the block that failed (the ERR trap), if any. */
  failed: string | undefined;
}

/**
 * One bash process for the blocks of one doc, so that what a block sets
 * (`OTP_ID=$(…)`) is there for the next, as in a terminal. Each block runs
 * with `pipefail` and an ERR trap that notes the first failing command;
 * its stdin is /dev/null.
 */
export class BashSession {
  private readonly child: ChildProcess;
  private buffer = '';
  private waiting: ((line: string) => void) | undefined;
  private count = 0;

  constructor(
    private readonly dir: string,
    env: Record<string, string>,
  ) {
    this.child = spawn('bash', ['--noprofile', '--norc'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.buffer += chunk;
      const match = /__done__ (\d+) (\S*)\n/.exec(this.buffer);
      if (match && this.waiting) {
        this.buffer = this.buffer.slice(match.index + match[0].length);
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(`${match[1]} ${match[2]}`);
      }
    });
    this.child.stderr!.resume();
    this.child.stdin!.write('set -o pipefail\ntrap \'[ -z "$__failed" ] && __failed="$BASH_COMMAND"\' ERR\n');
  }

  async run(code: string, timeoutMs = 30_000): Promise<ShellResult> {
    const n = ++this.count;
    const [script, out, err, failedFile] = ['sh', 'out', 'err', 'failed'].map((ext) =>
      join(this.dir, `.block-${n}.${ext}`),
    );
    writeFileSync(script!, code);
    const done = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the block ran longer than ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
    this.child.stdin!.write(
      `__failed=; source ${script} < /dev/null > ${out} 2> ${err}; __status=$?; ` +
        `printf '%s' "$__failed" > ${failedFile}; printf '__done__ %s x\\n' "$__status"\n`,
    );
    const [status] = (await done).split(' ');
    const failed = readFileSync(failedFile!, 'utf8');
    return {
      stdout: readFileSync(out!, 'utf8'),
      stderr: readFileSync(err!, 'utf8'),
      status: Number(status),
      failed: failed === '' ? undefined : failed,
    };
  }

  close(): void {
    this.child.stdin!.end();
    this.child.kill();
  }
}

/** Runs a program to its end: status, stdout and stderr. */
export function runProgram(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
