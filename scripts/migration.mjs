// Authors and checks keymeter's migrations offline.
//
//   node scripts/migration.mjs create <name>  writes the next migration for every provider
//   node scripts/migration.mjs check          exits 1 when the datamodel changed without one
//
// `prisma migrate diff` between two datamodels works without a database or the network, so the
// datamodel as of the last migration is kept at prisma/migrations/datamodel.prisma and diffed
// against the current one, once per provider. The wasm schema engine needs a connection of
// the provider for that (see prisma.config.ts): PostgreSQL must be reachable to author or check.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DATAMODEL, deriveSchema, PROVIDERS, readDatamodel } from './prisma-schemas.mjs';

const MIGRATIONS = 'prisma/migrations';
const SNAPSHOT = path.join(MIGRATIONS, 'datamodel.prisma');

function diff(provider) {
  const tmp = mkdtempSync(path.join(tmpdir(), 'keymeter-migration-'));
  const to = path.join(tmp, 'to.prisma');
  writeFileSync(to, deriveSchema(readDatamodel(), provider));
  const from = existsSync(SNAPSHOT) ? path.join(tmp, 'from.prisma') : null;
  if (from) writeFileSync(from, deriveSchema(readDatamodel(SNAPSHOT), provider));
  const args = ['node_modules/prisma/build/index.js', 'migrate', 'diff', '--script'];
  args.push(...(from ? ['--from-schema-datamodel', from] : ['--from-empty']));
  args.push('--to-schema-datamodel', to);
  return execFileSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', KEYMETER_DIFF_PROVIDER: provider },
  });
}

const isEmpty = (sql) => sql.replace(/--.*$/gm, '').trim() === '';

function nextNumber(provider) {
  const dir = path.join(MIGRATIONS, provider);
  const taken = existsSync(dir)
    ? readdirSync(dir)
        .map((d) => parseInt(d, 10))
        .filter(Number.isFinite)
    : [];
  return String(Math.max(0, ...taken) + 1).padStart(4, '0');
}

const [command, name] = process.argv.slice(2);
if (command === 'create') {
  if (!name || !/^[a-z0-9_]+$/.test(name)) {
    console.error('usage: npm run db:migration -- <name in snake_case>');
    process.exit(2);
  }
  const scripts = PROVIDERS.map((provider) => [provider, diff(provider)]);
  if (scripts.every(([, sql]) => isEmpty(sql))) {
    console.log('The datamodel has not changed since the last migration: nothing to write.');
    process.exit(0);
  }
  for (const [provider, sql] of scripts) {
    const dir = path.join(MIGRATIONS, provider, `${nextNumber(provider)}_${name}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'migration.sql'), sql);
    console.log(`wrote ${dir}/migration.sql`);
  }
  copyFileSync(DATAMODEL, SNAPSHOT);
} else if (command === 'check') {
  const pending = PROVIDERS.filter((provider) => !isEmpty(diff(provider)));
  if (pending.length > 0) {
    console.error(
      `${DATAMODEL} changed without a migration (${pending.join(', ')}). ` +
        'Run `npm run db:migration -- <name>` and commit the result.',
    );
    process.exit(1);
  }
  console.log('Migrations are up to date with the datamodel.');
} else {
  console.error('usage: node scripts/migration.mjs create <name> | check');
  process.exit(2);
}
