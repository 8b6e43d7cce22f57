#!/usr/bin/env node
// keymeter benchmark suite: `npm run bench [-- --quick] [-- --json]`. See docs/benchmarks.md.
// This file is the runner: options, set-up, every database through the scenario registry
// (scenarios/index.mjs), the report. The scenarios and their helpers live in scenarios/ and lib/.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DirectDb, PgTarget, SqliteTarget } from './lib/db.mjs';
import { INSTANCES } from './lib/instances.mjs';
import { FLUSH_MS, parseOptions } from './lib/options.mjs';
import {
  collectTargets,
  finishReport,
  startClock,
  startReport,
  writeReport,
} from './lib/report.mjs';
import { appKeys, seedLoadKeys } from './lib/seed.mjs';
import { BENCH_DIR, Server, snapshotApp } from './lib/server.mjs';
import { log, round, setQuiet } from './lib/util.mjs';
import { SCENARIOS } from './scenarios/index.mjs';

const REPO = path.resolve(BENCH_DIR, '..');
const { opts, P, want } = parseOptions();
setQuiet(false);
const TARGETS = collectTargets(SCENARIOS);
/** The ids a scenario reports (what --only selects). */
const idsOf = (s) => s.covers ?? [s.id];
const SCENARIO_OF = new Map(SCENARIOS.flatMap((s) => idsOf(s).map((id) => [id, s])));

// ---------------------------------------------------------------------------------------------
// Set-up shared by all scenarios

const runRoot = mkdtempSync(path.join(os.tmpdir(), 'keymeter-bench-'));
const logDir = path.join(runRoot, 'logs');
mkdirSync(logDir, { recursive: true });
const profileDir = opts.profile ? path.resolve(opts.profile) : undefined;

/**
 * CPU pinning: the load generator (this process) on CPU 0, keymeter on the others, so that
 * autocannon and the server do not preempt each other on one core. Off with --pin off, or
 * when there is one CPU or no taskset.
 */
function pinning() {
  const n = os.cpus().length;
  if (opts.pin === 'off' || n < 2) return { server: undefined, note: 'off' };
  try {
    execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return { server: undefined, note: 'off (taskset unavailable)' };
  }
  const server = n === 2 ? '1' : `1-${n - 1}`;
  return { server, note: `load generator on CPU 0, keymeter on CPU ${server}` };
}
const PIN = pinning();
if (profileDir) mkdirSync(profileDir, { recursive: true });

const live = new Set();
process.on('exit', () => {
  for (const s of live) if (s.child && s.child.exitCode === null) s.child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`\n${signal}: stopping the servers started by the benchmark`);
    process.exit(130);
  });
}

const appDir = await snapshotApp(REPO, path.join(runRoot, 'app'));
const keys = appKeys(appDir);

/** A keymeter server of the app snapshot (not started), killed at exit if still running. */
function newServer(options) {
  const server = new Server({
    appDir,
    node: process.execPath,
    logDir,
    profileDir,
    cpus: PIN.server,
    ...options,
  });
  live.add(server);
  return server;
}
async function release(server) {
  await server.stop();
  live.delete(server);
}

/** Prepares the Node 24 copy of the app (--node24-bin, --node24-repo), or notes why not. */
function prepareNode24(report) {
  if (!opts['node24-bin'] || !opts['node24-repo']) {
    report.node24_note =
      'Node 24 not measured (pass --node24-bin and --node24-repo, see docs/benchmarks.md)';
    return null;
  }
  const bin = path.resolve(opts['node24-bin']);
  const repo = path.resolve(opts['node24-repo']);
  if (!existsSync(bin) || !existsSync(path.join(repo, 'dist', 'main.js'))) {
    report.node24_note = `Node 24 not measured: ${bin} or ${repo}/dist/main.js missing`;
    return null;
  }
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  // The same build as the Node 20 runs, with the node_modules installed under Node 24
  // (better-sqlite3 is native).
  const appDir24 = path.join(runRoot, 'app-node24');
  cpSync(appDir, appDir24, {
    recursive: true,
    filter: (src) => src !== path.join(appDir, 'node_modules'),
  });
  symlinkSync(path.join(repo, 'node_modules'), path.join(appDir24, 'node_modules'), 'dir');
  report.versions.node24 = version;
  try {
    report.versions.node24_sqlite = execFileSync(
      bin,
      [
        '-e',
        `const D=require(require('./dist/prisma/sqlite-driver.js').SQLITE_DRIVER);console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)`,
      ],
      { cwd: appDir24, encoding: 'utf8' },
    ).trim();
  } catch {
    report.versions.node24_sqlite = null;
  }
  return { bin, repo, version, appDir: appDir24 };
}

// ---------------------------------------------------------------------------------------------
// One database: a shared instance (S), seeded once, then the registry's scenarios in order;
// standalone ones after S is stopped.

async function runDatabase(kind, extras) {
  const started = performance.now();
  const result = { fields: {}, details: {}, errors: {} };
  const target =
    kind === 'sqlite'
      ? new SqliteTarget(runRoot, 'main')
      : await new PgTarget(opts['pg-url'], 'main').create();
  const S = newServer({ name: `${kind}-main`, target });
  const ctx = {
    kind,
    target,
    S,
    P,
    opts,
    extras,
    keys,
    runRoot,
    logDir,
    pin: PIN,
    server: newServer,
    release,
  };
  const skipReason = (id) => SCENARIO_OF.get(id)?.skip?.(ctx, id) || null;
  ctx.want = (id) => want(id) && !skipReason(id);
  for (const id of SCENARIO_OF.keys()) {
    if (want(id) && skipReason(id)) result.details[id] = { skipped: skipReason(id) };
  }
  const plan = SCENARIOS.filter((s) => idsOf(s).some(ctx.want));

  const step = async (s) => {
    const label = idsOf(s).filter(ctx.want).join('+');
    const t0 = performance.now();
    log(`  ${label} on ${kind}${s.covers ? ` (${s.title})` : ''}...`);
    try {
      const out = await s.run(ctx);
      const seconds = round((performance.now() - t0) / 1000, 1);
      if (s.covers) {
        for (const [id, o] of Object.entries(out.results)) {
          Object.assign(result.fields, o.fields);
          result.details[id] = o.details;
          log(`  ${id} on ${kind}: ${JSON.stringify(o.fields)}`);
        }
        Object.assign(result.details, { [`${s.id}_series_seconds`]: seconds, ...out.details });
      } else {
        Object.assign(result.fields, out.fields);
        result.details[s.id] = { ...out.details, seconds };
        log(`  ${s.id} on ${kind}: ${JSON.stringify(out.fields)} (${Math.round(seconds)} s)`);
      }
    } catch (error) {
      result.errors[label] = error instanceof Error ? error.stack : String(error);
      log(`  ${label} on ${kind} FAILED: ${result.errors[label]}`);
      const down = S.child && (S.child.exitCode !== null || S.child.signalCode !== null);
      if (!s.standalone && down) await S.start().catch(() => undefined);
    }
  };

  const shared = plan.filter((s) => !s.standalone);
  const needs = new Map(shared.map((s) => [s, s.needs?.(ctx) ?? []]));
  const names = (s) => [...needs.get(s), ...(s.uses ?? [])];
  const running = new Map(); // instance name -> handle (undefined: unavailable or stopped)
  const stop = async (name) => {
    const handle = running.get(name);
    running.set(name, undefined);
    delete ctx[name];
    if (handle) await INSTANCES[name].stop(ctx, handle);
  };
  try {
    await S.start();
    ctx.db = await DirectDb.open(target);
    result.version = await ctx.db.version();
    const t0 = performance.now();
    Object.assign(ctx, await seedLoadKeys(S));
    result.details.seed = { keys: 1001, seconds: round((performance.now() - t0) / 1000, 1) };
    log(`  seeded 1,001 keys through the API in ${result.details.seed.seconds} s`);
    for (const [i, s] of shared.entries()) {
      for (const name of needs.get(s)) {
        if (running.has(name)) continue;
        running.set(name, undefined);
        const handle = await INSTANCES[name].start(ctx);
        running.set(name, handle);
        if (handle) ctx[name] = handle;
      }
      await step(s);
      // An extra instance stops after the last scenario that names it.
      const later = shared.slice(i + 1);
      for (const name of running.keys())
        if (!later.some((l) => names(l).includes(name))) await stop(name);
    }
  } catch (error) {
    result.errors.setup = error instanceof Error ? error.stack : String(error);
    log(`  ${kind} set-up FAILED: ${result.errors.setup}\n${S.logTail()}`);
  } finally {
    for (const name of running.keys()) await stop(name);
    await ctx.db?.close();
    await release(S);
    if (!opts.keep) await target.drop();
  }
  for (const s of plan.filter((p) => p.standalone)) await step(s);
  result.seconds = round((performance.now() - started) / 1000, 0);
  if (Object.keys(result.errors).length === 0) delete result.errors;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const clock = startClock();
  const kinds = opts.db
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const report = startReport({
    P,
    appDir,
    repo: REPO,
    settings: { flush_interval_ms: FLUSH_MS, cpu_pinning: PIN.note },
    targets: TARGETS,
  });
  log(`keymeter benchmark (${P.mode}); app snapshot in ${appDir}; logs in ${logDir}`);
  const node24 = prepareNode24(report);

  for (const kind of kinds) {
    if (kind === 'postgresql') {
      const reach = await PgTarget.reachable(opts['pg-url']);
      if (!reach.ok) {
        report.results.postgresql = {
          skipped: `PostgreSQL not reachable at ${opts['pg-url'].replace(/\/\/[^@/]*@/, '//***@')}: ${reach.reason}`,
        };
        log(`PostgreSQL skipped: ${reach.reason}`);
        continue;
      }
    } else if (kind !== 'sqlite') {
      throw new Error(`unknown --db ${kind}`);
    }
    log(`\n== ${kind}`);
    report.results[kind] = await runDatabase(kind, {
      node24,
      onNode24Error: (error) => {
        report.node24_note = `Node 24 not measured: its server did not start (${error instanceof Error ? error.message.split('\n')[0] : error})`;
        log(report.node24_note);
      },
    });
    report.versions[kind] = report.results[kind].version ?? null;
  }
  finishReport(report, TARGETS, clock);
  writeReport(report, TARGETS, opts);
  if (!opts.keep) rmSync(runRoot, { recursive: true, force: true });
  else log(`kept ${runRoot}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
