import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

/** The built server: `npx nest build` (npm test builds first) writes it. */
export const SERVER_ENTRY = path.resolve(__dirname, '..', '..', 'dist', 'main.js');

export interface ServerOptions {
  /** `file:/path.db` or `postgresql://...`; unset: SQLite under dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /** KEYMETER_SECRET; the same one is needed to reopen a database. */
  secret: string;
  /** USAGE_FLUSH_INTERVAL_MS (default: the server's own default). */
  flushIntervalMs?: number;
  /** Anything else to put in the server's environment. */
  env?: Record<string, string>;
  /** How long to wait for GET /health to answer 200. */
  startTimeoutMs?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  child: ChildProcess;
  /** Everything the server wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Sends a signal (SIGTERM for a graceful stop, SIGKILL for a crash). */
  kill(signal: NodeJS.Signals): void;
  /** Settles once the process has exited. */
  readonly exited: Promise<Exit>;
  /** Resolves with how the process ended; rejects if it is still running after timeoutMs. */
  waitForExit(timeoutMs?: number): Promise<Exit>;
  /** Cleanup for afterAll/finally: SIGKILL if still running, then waits for the exit. */
  stop(): Promise<Exit>;
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function healthStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/health`, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Spawns `node dist/main.js` as a child process on a free port and waits until GET /health
 * answers 200. The environment is built from scratch (PATH aside), so the developer's own
 * DATABASE_URL and the like cannot leak in.
 */
export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  if (!existsSync(SERVER_ENTRY)) {
    throw new Error(`${SERVER_ENTRY} does not exist: run \`npx nest build\` first`);
  }
  // A second port the caller chose for the server (GATEWAY_PORT) came from freePort() too, and
  // may be the one handed out again now.
  let port = await freePort();
  while (String(port) === options.env?.GATEWAY_PORT) port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: options.dataDir,
    KEYMETER_SECRET: options.secret,
    LOG_LEVEL: 'warn',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...(options.flushIntervalMs !== undefined
      ? { USAGE_FLUSH_INTERVAL_MS: String(options.flushIntervalMs) }
      : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: path.dirname(path.dirname(SERVER_ENTRY)),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });

  const server: ServerProcess = {
    port,
    url,
    child,
    stdout: () => out,
    stderr: () => err,
    kill: (signal) => {
      if (exit === undefined) child.kill(signal);
    },
    exited,
    async waitForExit(timeoutMs = 20_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `the server (pid ${child.pid}) was still running after ${timeoutMs} ms\n` +
                  `stdout:\n${out}\nstderr:\n${err}`,
              ),
            ),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop() {
      server.kill('SIGKILL');
      return exited;
    },
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  for (;;) {
    if (exit !== undefined) {
      throw new Error(
        `the server exited during start-up (${JSON.stringify(exit)})\n` +
          `stdout:\n${out}\nstderr:\n${err}`,
      );
    }
    if ((await healthStatus(url)) === 200) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(
        `GET ${url}/health did not answer 200 in time\nstdout:\n${out}\nstderr:\n${err}`,
      );
    }
    await sleep(100);
  }
}
