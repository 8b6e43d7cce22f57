import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { basic } from './helpers/factory';
import { ServerProcess, startServer } from './helpers/process';

/**
 * Runs the BUILT server (dist/main.js; `npx nest build` or `npm test` writes it) as a child
 * process with LOG_LEVEL=verbose through a full session: accounts, keys created and used with
 * all three header styles, Optidash routes with the key in the URL path, Radar routes with
 * passwords, wrong keys and passwords, requests that make the server log an error, /metrics.
 * Then it stops the server with SIGTERM and searches everything the server wrote (stdout,
 * stderr), the /metrics text and every file under its data directory (the SQLite database and
 * its -wal and -shm files, copied while the server ran and read again after it stopped) for every
 * key, every key without its prefix, every password and KEYMETER_SECRET. None may appear.
 */

const PREFIX = 'km_';

interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

function client(url: string) {
  return async (
    method: string,
    route: string,
    options: { headers?: Record<string, string>; body?: unknown; raw?: Buffer | string } = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = { ...options.headers };
    let body: Buffer | string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const res = await fetch(`${url}${route}`, { method, headers, body });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // CSV, Prometheus text or an empty body
    }
    return { status: res.status, text, json };
  };
}

/** Every file under `dir`, by path relative to it. */
function filesUnder(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (current: string) => {
    for (const entry of readdirSync(current)) {
      const full = path.join(current, entry);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(dir, full), readFileSync(full));
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}

describe('secrets never reach the logs, the metrics or the database files', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'keymeter-secrets-'));
  const secret = randomBytes(32).toString('hex');
  /** What must never appear, by a name that says what it is (never the value itself). */
  const secrets = new Map<string, string>([
    ['KEYMETER_SECRET', secret],
    ['KEYMETER_SECRET as base64', Buffer.from(secret, 'hex').toString('base64')],
  ]);
  let server: ServerProcess | undefined;
  let logs = '';
  let metrics = '';
  let exitCode: number | null = null;
  const filesWhileRunning = new Map<string, Buffer>();
  let filesAfterStop = new Map<string, Buffer>();
  const statuses: number[] = [];
  /** Not secret, and stored: proves the database files were read where the rows live. */
  const storedIds: string[] = [];

  const addKey = (name: string, key: string) => {
    expect(key).toMatch(/^km_[0-9A-Za-z]{46}$/);
    secrets.set(`key ${name}`, key);
    secrets.set(`key ${name} without its prefix`, key.slice(PREFIX.length));
    secrets.set(`random part of key ${name}`, key.slice(PREFIX.length, PREFIX.length + 40));
    secrets.set(`Basic credentials of key ${name}`, basic(key).slice('Basic '.length));
  };
  const addPassword = (name: string, password: string) => {
    secrets.set(`password ${name}`, password);
  };

  beforeAll(async () => {
    server = await startServer({
      dataDir,
      secret,
      flushIntervalMs: 200,
      env: { LOG_LEVEL: 'verbose' },
    });
    const raw = client(server.url);
    const call: typeof raw = async (...args) => {
      const reply = await raw(...args);
      statuses.push(reply.status);
      return reply;
    };

    // Accounts.
    const people = ['alice', 'bob'].map((who) => ({
      who,
      email: `${who}-${randomBytes(4).toString('hex')}@example.com`,
      password: `pw ${who} ${randomBytes(12).toString('hex')}`,
      masterKey: '',
      masterKeyId: '',
    }));
    for (const p of people) {
      addPassword(p.who, p.password);
      const res = await call('POST', '/api/v1/auth/register', {
        body: { email: p.email, password: p.password },
      });
      expect(res.status).toBe(201);
      const data = res.json.data as { apiKey: string; id: string };
      p.masterKey = data.apiKey;
      p.masterKeyId = data.id;
      addKey(`master of ${p.who}`, p.masterKey);
    }
    const [alice, bob] = people;
    storedIds.push(alice.masterKeyId, bob.masterKeyId);
    const styles = (key: string): Record<string, string>[] => [
      { Authorization: basic(key) },
      { Authorization: `Bearer ${key}` },
      { 'x-api-key': key },
    ];

    // Keys created with each header style, and one through the Radar API.
    const children: string[] = [];
    for (const [i, headers] of styles(alice.masterKey).entries()) {
      const res = await call('POST', '/1.0/keys', { headers, body: { name: `child ${i}` } });
      expect(res.status).toBe(200);
      children.push(res.json.key as string);
      addKey(`child ${i}`, res.json.key as string);
    }
    const generated = await call('POST', '/api/v1/keys/generate', {
      body: { email: alice.email, password: alice.password, name: 'radar child' },
    });
    expect(generated.status).toBe(201);
    const radarKey = (generated.json.data as { apiKey: string; id: string }).apiKey;
    addKey('radar child', radarKey);
    const bobChild = await call('POST', '/1.0/keys', {
      headers: { 'x-api-key': bob.masterKey },
      body: { name: 'bob child' },
    });
    addKey('bob child', bobChild.json.key as string);

    // Key holders use their keys with every header style.
    for (const key of [...children, alice.masterKey]) {
      for (const headers of styles(key)) {
        expect((await call('GET', '/1.0/me', { headers })).status).toBe(200);
        await call('GET', '/1.0/me/usage?interval=hour', { headers });
        await call('POST', '/1.0/verify', { headers, body: { key, volume: 10 } });
      }
    }

    // Optidash routes with the key in the URL path.
    const master = { Authorization: basic(alice.masterKey) };
    for (const [i, key] of children.entries()) {
      await call('GET', `/1.0/keys/${key}?interval=hour`, { headers: master });
      await call('GET', `/1.0/keys/${key}?format=csv`, { headers: master });
      await call('PUT', `/1.0/keys/${key}`, { headers: master, body: { name: `renamed ${i}` } });
      await call('PATCH', `/1.0/keys/${key}`, { headers: master, body: { isActive: false } });
      await call('GET', '/1.0/me', { headers: { 'x-api-key': key } });
      await call('PATCH', `/1.0/keys/${key}`, { headers: master, body: { isActive: true } });
    }
    await call('GET', '/1.0/keys', { headers: master });
    await call('POST', '/1.0/verify', { headers: master, body: { key: radarKey } });
    expect((await call('DELETE', `/1.0/keys/${radarKey}`, { headers: master })).status).toBe(200);

    // Radar routes with passwords, right and wrong.
    for (const route of ['getApiKeys', 'usageAnalytics']) {
      await call('POST', `/api/v1/keys/${route}`, {
        body: { email: alice.email, password: alice.password },
      });
      await call('POST', `/api/v1/keys/${route}`, {
        body: { email: alice.email, password: `${alice.password} wrong` },
      });
      await call('POST', `/api/v1/keys/${route}`, {
        body: { email: `nobody-${alice.email}`, password: bob.password },
      });
    }
    await call('POST', '/api/v1/auth/register', {
      body: { email: alice.email, password: bob.password },
    });
    await call('POST', '/api/v1/auth/register', { body: { email: 'no', password: 'short' } });

    // Bad keys, in headers and in paths.
    const flipped = (key: string) => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    for (const headers of [
      ...styles(flipped(alice.masterKey)),
      ...styles(radarKey),
      ...styles(children[0]).map((h) => ({ ...h, 'x-api-key': alice.masterKey })),
      { Authorization: `Token ${alice.masterKey}` },
      { Authorization: alice.masterKey },
    ]) {
      await call('GET', '/1.0/keys', { headers });
    }
    await call('GET', '/1.0/keys', { headers: { 'x-api-key': children[1] } });
    await call('GET', `/1.0/keys/${bobChild.json.key as string}`, { headers: master });
    await call('GET', `/1.0/keys/${flipped(children[0])}`, { headers: master });
    await call('GET', `/1.0/key/${children[0]}`, { headers: master });
    await call('GET', `/1.0/keys/${children[0]}%`, { headers: master });
    await call('GET', `/1.0/keys/${children[0]}?from=${children[1]}`, { headers: master });
    await call('POST', '/1.0/verify', { headers: master, body: { key: flipped(children[2]) } });

    // Requests that make the server log an error, each carrying secrets.
    await call('PATCH', `/1.0/keys/${children[0]}`, { headers: master, body: { name: null } });
    await call('POST', '/api/v1/keys/getApiKeys', {
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      raw: JSON.stringify({ email: alice.email, password: alice.password }),
    });
    await call('POST', '/api/v1/keys/getApiKeys', {
      headers: { 'Content-Type': 'application/json' },
      raw: `{"email":${JSON.stringify(alice.email)},"password":${JSON.stringify(alice.password)},"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
    });
    await call('POST', '/1.0/keys', {
      headers: { ...master, 'Content-Type': 'application/json' },
      raw: '{"name":"half \\ud800 pair"}',
    });
    await call('POST', '/api/v1/keys/generate', {
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      raw: gzipSync(JSON.stringify({ email: alice.email, password: alice.password })),
    });

    metrics = (await call('GET', '/metrics')).text;
    // Let a few flushes write the usage, then copy the database files while the server runs.
    await new Promise((resolve) => setTimeout(resolve, 600));
    for (const [name, bytes] of filesUnder(dataDir)) filesWhileRunning.set(name, bytes);

    server.kill('SIGTERM');
    exitCode = (await server.waitForExit(20_000)).code;
    logs = server.stdout() + server.stderr();
    filesAfterStop = filesUnder(dataDir);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const leaksIn = (text: string | Buffer) =>
    [...secrets].filter(([, value]) => text.includes(value)).map(([name]) => name);

  it('ran the whole session on a verbose server and stopped cleanly', () => {
    expect(exitCode).toBe(0);
    expect(statuses.filter((s) => s >= 200 && s < 300).length).toBeGreaterThan(40);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(5);
    // Verbose start-up lines: the search has material.
    expect(logs).toMatch(/Mapped \{\/1\.0\/keys\/:key, GET\} route/);
    expect(metrics).toMatch(
      /keymeter_http_requests_total\{method="GET",route="\/1\.0\/keys\/:key"/,
    );
    expect([...filesAfterStop.keys()]).toContain('keymeter.db');
    const stored = Buffer.concat([...filesAfterStop.values()]);
    for (const id of storedIds) expect(stored.includes(id)).toBe(true);
    expect(secrets.size).toBeGreaterThan(30);
  });

  it('writes no key, password or server secret to stdout or stderr', () => {
    expect(leaksIn(logs)).toEqual([]);
  });

  it('exposes no key, password or server secret in /metrics', () => {
    expect(leaksIn(metrics)).toEqual([]);
  });

  it('keeps no key, password or server secret in the database files while running', () => {
    expect([...filesWhileRunning.keys()]).toEqual(expect.arrayContaining(['keymeter.db']));
    const found = [...filesWhileRunning].flatMap(([file, bytes]) =>
      leaksIn(bytes).map((name) => `${name} in ${file}`),
    );
    expect(found).toEqual([]);
  });

  it('keeps no key, password or server secret in the database files after stopping', () => {
    const found = [...filesAfterStop].flatMap(([file, bytes]) =>
      leaksIn(bytes).map((name) => `${name} in ${file}`),
    );
    expect(found).toEqual([]);
  });
});
