// Builds the browser dashboard into dashboard/dist, which keymeter serves at `/`:
//   dist/index.html             names the current build's files (served with Cache-Control: no-cache)
//   dist/assets/NAME-HASH.EXT   content-hashed, so they can be cached for a year
// esbuild bundles the TypeScript sources and uPlot (with its CSS) from node_modules: the page makes
// no request to anything but keymeter. Run by `npm run build` (and so by `npm install`).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'dashboard');
const out = path.join(source, 'dist');
const assets = path.join(out, 'assets');

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: 'dashboard/src/main.ts' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome109', 'firefox115', 'safari15.6', 'edge109'],
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

const [script, meta] = Object.entries(result.metafile.outputs).find(
  ([, m]) => m.entryPoint === 'dashboard/src/main.ts',
);
if (!meta.cssBundle) throw new Error('esbuild wrote no CSS bundle for the dashboard');
/** The URL of an output file: it lives under dist/assets/, served at /assets/. */
const url = (file) => `/assets/${path.basename(file)}`;

/** Copies a static file under a content-hashed name; returns its URL. */
function hashed(file) {
  const body = readFileSync(path.join(source, file));
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 10);
  const { name, ext } = path.parse(file);
  const target = `${name}-${hash}${ext}`;
  writeFileSync(path.join(assets, target), body);
  return `/assets/${target}`;
}

const html = readFileSync(path.join(source, 'index.html'), 'utf8')
  .replace('%SCRIPT%', url(script))
  .replace('%STYLE%', url(meta.cssBundle))
  .replace('%ICON%', hashed('src/favicon.svg'));
writeFileSync(path.join(out, 'index.html'), html);

const files = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
console.log(`dashboard built into ${path.relative(root, out)}/ (${files.join(', ')})`);
