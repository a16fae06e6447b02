// Builds the dashboard into dist/web: one hashed script and stylesheet, and
// index.html naming them. `node web/build.mjs` (npm run build:web).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: [join(here, 'src', 'main.tsx')],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => p.split('/').pop());
const script = outputs.find((f) => f.endsWith('.js'));
const css = readFileSync(join(here, 'src', 'app.css'), 'utf8');
const cssName = `app-${createHash('sha256').update(css).digest('hex').slice(0, 8).toUpperCase()}.css`;
writeFileSync(join(out, 'assets', cssName), css);
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify({ script, css: cssName }, null, 2)}\n`);
const size = (name) => `${(readFileSync(join(out, 'assets', name)).length / 1024).toFixed(1)} KiB`;
console.log(`dist/web: ${script} (${size(script)}), ${cssName} (${size(cssName)})`);
