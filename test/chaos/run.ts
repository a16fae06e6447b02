import { parseArgs } from 'node:util';
import { type ChaosReport, runChaos } from './scenario.js';

/**
 * The long-form chaos run (`npm run chaos -- --backend both --kills 20`):
 * load against otpd processes while they are SIGKILLed and PostgreSQL is
 * crashed once, then every invariant checked. Prints the figures and each
 * invariant's verdict; exits 1 when any invariant was broken.
 */

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'both' },
    kills: { type: 'string', default: '20' },
    processes: { type: 'string', default: '3' },
    seed: { type: 'string' },
    duration: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    quiet: { type: 'boolean', default: false },
  },
});

const backends =
  values.backend === 'both'
    ? (['sqlite', 'postgres'] as const)
    : ([values.backend] as ('sqlite' | 'postgres')[]);
if (!backends.every((b) => b === 'sqlite' || b === 'postgres')) {
  console.error('--backend must be sqlite, postgres or both');
  process.exit(2);
}
const kills = Number(values.kills);
const processes = Number(values.processes);
if (!Number.isInteger(kills) || kills < 1 || ![2, 3].includes(processes)) {
  console.error('--kills must be a positive integer, --processes 2 or 3');
  process.exit(2);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const durationMs = (values.duration === undefined ? Math.max(60, kills * 4) : Number(values.duration)) * 1000;

function print(report: ChaosReport): void {
  console.log(`\n== ${report.backend}: ${report.processes} process(es), seed ${report.seed}`);
  const width = Math.max(...Object.keys(report.figures).map((k) => k.length));
  for (const [name, value] of Object.entries(report.figures))
    console.log(`  ${name.padEnd(width)}  ${value}`);
  if (report.unsettled.length > 0) console.log(`  did not settle: ${report.unsettled.join(', ')}`);
  console.log('  invariants:');
  for (const inv of report.invariants) {
    const verdict = inv.violations.length === 0 ? 'ok' : `VIOLATED ×${inv.violations.length}`;
    console.log(`    ${verdict.padEnd(14)} ${inv.name} (${inv.checked} checked)`);
    for (const v of inv.violations.slice(0, 20)) console.log(`        - ${v.replace(/\n/g, '\n          ')}`);
    if (inv.violations.length > 20) console.log(`        … ${inv.violations.length - 20} more`);
  }
}

let ok = true;
for (const backend of backends) {
  const report = await runChaos({
    backend,
    kills,
    processes,
    seed,
    durationMs,
    concurrency: Number(values.concurrency),
    log: values.quiet
      ? undefined
      : (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
  });
  print(report);
  if (report.figures['OTPs sent (acknowledged)'] === 0)
    console.log('  no send was acknowledged: nothing was tested');
  ok &&= report.ok && report.figures['OTPs sent (acknowledged)']! > 0;
}
console.log(ok ? '\nchaos: every invariant held' : '\nchaos: invariants violated');
process.exit(ok ? 0 : 1);
