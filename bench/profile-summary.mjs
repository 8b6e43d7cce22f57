#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --profile DIR`):
// the functions with the most self time, and self time per package / file.
//   node bench/profile-summary.mjs FILE.cpuprofile [--top 30] [--focus REGEX]
// --focus also lists inclusive time (the function and everything it calls) of the functions
// whose "name file" matches REGEX, e.g. --focus 'canActivate|helmet|AllExceptionsFilter'.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, focus: { type: 'string' } },
});
if (positionals.length === 0) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N]');
  process.exit(2);
}

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const total = profile.samples.length;
  for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + 1);

  const where = (cf) => {
    const url = cf.url.replace(/^file:\/\//, '');
    const nm = url.lastIndexOf('node_modules/');
    if (nm >= 0) {
      const rest = url.slice(nm + 'node_modules/'.length).split('/');
      return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    }
    const dist = url.indexOf('/dist/');
    if (dist >= 0) return `keymeter:${url.slice(dist + 6)}`;
    if (url.startsWith('node:')) return url;
    return url || '(native/vm)';
  };

  const fn = new Map();
  const pkg = new Map();
  for (const [id, n] of self) {
    const cf = byId.get(id).callFrame;
    const name = `${cf.functionName || '(anonymous)'} ${where(cf)}:${cf.lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + n);
    const p = where(cf);
    pkg.set(p, (pkg.get(p) ?? 0) + n);
  }
  const pct = (n) => `${((100 * n) / total).toFixed(1).padStart(5)}%`;
  const top = Number(values.top);
  console.log(
    `\n${file}: ${total} samples, ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`,
  );
  console.log('\nself time by package / file:');
  for (const [name, n] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${pct(n)}  ${name}`);
  console.log('\nself time by function:');
  for (const [name, n] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${pct(n)}  ${name}`);

  if (values.focus) {
    const focus = new RegExp(values.focus);
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const inclusive = new Map();
    for (const [id, n] of self) {
      const seen = new Set();
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
        const cf = byId.get(cur).callFrame;
        const name = `${cf.functionName || '(anonymous)'} ${where(cf)}:${cf.lineNumber + 1}`;
        if (!seen.has(name) && focus.test(name)) {
          seen.add(name);
          inclusive.set(name, (inclusive.get(name) ?? 0) + n);
        }
      }
    }
    console.log(`\ninclusive time of functions matching /${values.focus}/:`);
    for (const [name, n] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`  ${pct(n)}  ${name}`);
  }
}
