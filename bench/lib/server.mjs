// Starting and stopping keymeter (dist/bench/bench.main.js) as child processes for the benchmark.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, log, request, sleep } from './util.mjs';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A private copy of a built keymeter (dist/, prisma/ with the migrations and generated clients,
 * package.json; node_modules linked), so that a rebuild of the working tree while the
 * benchmark runs cannot pull dist/ away from under it.
 */
export async function snapshotApp(repo, into) {
  await waitForBuild(path.join(repo, 'dist'));
  mkdirSync(into, { recursive: true });
  const skip = (src) => /\.db(-wal|-shm|-journal)?$/.test(src);
  cpSync(path.join(repo, 'dist'), path.join(into, 'dist'), { recursive: true });
  cpSync(path.join(repo, 'prisma'), path.join(into, 'prisma'), {
    recursive: true,
    filter: (src) => !skip(src),
  });
  cpSync(path.join(repo, 'package.json'), path.join(into, 'package.json'));
  for (const extra of ['dashboard', 'public', 'static', 'views']) {
    const from = path.join(repo, extra);
    if (existsSync(from)) {
      cpSync(from, path.join(into, extra), {
        recursive: true,
        filter: (src) => !src.includes(`${path.sep}node_modules`),
      });
    }
  }
  symlinkSync(path.join(repo, 'node_modules'), path.join(into, 'node_modules'), 'dir');
  return into;
}

/** Newest modification time under `dir` (ms), or 0. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    try {
      latest = Math.max(
        latest,
        statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs,
      );
    } catch {
      // removed meanwhile
    }
  }
  return latest;
}

/**
 * Waits (up to 3 minutes) until dist/main.js exists and nothing under dist/ changed for 5 s:
 * another engineer's `nest build` deletes and rewrites dist/ while it runs.
 */
async function waitForBuild(dist) {
  const main = path.join(dist, 'main.js');
  const deadline = Date.now() + 180_000;
  let said = false;
  for (;;) {
    if (existsSync(main) && Date.now() - newest(dist) > 5000) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${main} is missing or still changing after 3 minutes: build keymeter first (npx nest build)`,
      );
    }
    if (!said) log(`waiting for a build of ${dist} to finish...`);
    said = true;
    await sleep(1000);
  }
}

/** One keymeter process. */
export class Server {
  /**
   * @param {object} o
   * @param {string} o.name        label for logs
   * @param {string} o.appDir      a directory holding dist/ (and node_modules)
   * @param {string} o.node        the node binary
   * @param {object} o.target      SqliteTarget or PgTarget
   * @param {object} [o.env]       extra environment (USAGE_FLUSH_INTERVAL_MS, ...)
   * @param {string} o.logDir      where stdout/stderr go
   * @param {string} [o.profileDir] run with --cpu-prof into this directory
   * @param {string} [o.cpus]      run under `taskset -c cpus`
   * @param {string[]} [o.nodeArgs] extra options for node (e.g. --max-old-space-size)
   */
  constructor(o) {
    Object.assign(this, o);
    this.secret = o.secret ?? randomBytes(32).toString('hex');
    this.port = null;
    this.child = null;
    this.starts = 0;
  }

  get logFile() {
    return path.join(this.logDir, `${this.name}.log`);
  }

  async start({ port } = {}) {
    this.port = port ?? this.port ?? (await freePort());
    this.starts++;
    const args = [];
    if (this.profileDir)
      args.push(
        '--cpu-prof',
        `--cpu-prof-dir=${this.profileDir}`,
        `--cpu-prof-name=${this.name}-${this.starts}.cpuprofile`,
      );
    // The bench entry is keymeter plus /__bench (trivial handlers, stats, gc; --expose-gc for
    // the last). Checkouts from before it existed booted those routes from main.js when
    // KEYMETER_BENCH_ROUTES=true, which is still set below so they can be compared.
    const benchEntry = path.join(this.appDir, 'dist', 'bench', 'bench.main.js');
    const entry = existsSync(benchEntry) ? benchEntry : path.join(this.appDir, 'dist', 'main.js');
    args.push('--expose-gc', ...(this.nodeArgs ?? []), entry);
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR ?? '/tmp',
      PORT: String(this.port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      KEYMETER_SECRET: this.secret,
      KEYMETER_BENCH_ROUTES: 'true',
      ...this.target.env(),
      ...this.env,
    };
    const out = openSync(this.logFile, 'a');
    // With `cpus` (e.g. "1"), the server runs on those CPUs only and the load generator on the
    // others: they then do not take turns on one core, which makes runs far steadier.
    const [command, argv] = this.cpus
      ? ['taskset', ['-c', this.cpus, this.node, ...args]]
      : [this.node, args];
    this.child = spawn(command, argv, { cwd: this.appDir, env, stdio: ['ignore', out, out] });
    closeSync(out);
    const child = this.child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const started = Date.now();
    for (;;) {
      const state = await Promise.race([this.exited, sleep(100, null, { ref: false })]);
      if (state)
        throw new Error(
          `${this.name} exited during start-up (${JSON.stringify(state)}):\n${this.logTail()}`,
        );
      try {
        const res = await request(this.port, 'GET', '/__bench/stats', { timeoutMs: 2000 });
        if (res.status === 200) {
          this.info = res.json();
          return this;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() - started > 90_000) {
        throw new Error(`${this.name} did not answer within 90 s:\n${this.logTail()}`);
      }
    }
  }

  /** Sends `signal` and waits for the exit. Resolves with the exit state and how long it took. */
  async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return null;
    const t0 = performance.now();
    this.child.kill(signal);
    // An unreferenced timer: a pending timeout must not keep the benchmark alive at its end.
    const state = await Promise.race([this.exited, sleep(timeoutMs, null, { ref: false })]);
    if (!state) {
      log(`  ! ${this.name} did not exit within ${timeoutMs} ms of ${signal}; killing it`);
      this.child.kill('SIGKILL');
      return { ...(await this.exited), ms: performance.now() - t0, forced: true };
    }
    return { ...state, ms: performance.now() - t0 };
  }

  /** A full garbage collection in the server, so that a run does not pay for the previous one's. */
  async gc() {
    await request(this.port, 'POST', '/__bench/gc');
  }

  async stats() {
    return (await request(this.port, 'GET', '/__bench/stats')).json();
  }

  logTail(lines = 30) {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
