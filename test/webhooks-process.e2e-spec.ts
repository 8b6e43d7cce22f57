import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { providers } from './helpers/app';
import { basic } from './helpers/factory';
import { createDatabase, dropDatabase } from './helpers/postgres';
import { ServerProcess, startServer } from './helpers/process';
import { verify, WebhookReceiver } from './helpers/webhook-receiver';

const env = { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' };

async function call<T>(
  server: ServerProcess,
  method: string,
  route: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: { ...headers, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function register(server: ServerProcess): Promise<Record<string, string>> {
  const email = `hooks-${randomBytes(4).toString('hex')}@example.com`;
  const { data } = await call<{ data: { apiKey: string } }>(
    server,
    'POST',
    '/api/v1/auth/register',
    {},
    { email, password: 'long enough password' },
  );
  return { Authorization: basic(data.apiKey) };
}

async function outcomesOf(server: ServerProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const outcomes: Record<string, number> = {};
  for (const m of text.matchAll(/^keymeter_webhook_deliveries_total\{outcome="(\w+)"\} (\d+)/gm)) {
    outcomes[m[1]] = Number(m[2]);
  }
  return outcomes;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const provider of providers()) {
  describe(`webhook deliveries across a SIGKILL [${provider}]`, () => {
    const receiver = new WebhookReceiver();
    let dataDir: string;
    let databaseUrl: string | undefined;
    const secret = randomBytes(32).toString('hex');

    beforeAll(async () => {
      await receiver.listen();
      dataDir = mkdtempSync(path.join(tmpdir(), 'keymeter-hooks-kill-'));
      if (provider === 'postgresql') databaseUrl = await createDatabase();
    });
    afterAll(async () => {
      await receiver.close();
      if (databaseUrl) await dropDatabase(databaseUrl);
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('delivers an event committed before the kill, at least once, after the restart', async () => {
      let server = await startServer({ dataDir, secret, databaseUrl, env });
      try {
        const master = await register(server);
        const hook = await call<{ id: string; secret: string }>(
          server,
          'POST',
          '/1.0/webhooks',
          master,
          {
            url: receiver.url('/kill'),
            events: ['key.created'],
          },
        );
        // The receiver holds the first attempt: the event is committed and being delivered, and
        // the instance dies before it learns the outcome.
        receiver.delayMs = 60_000;
        await call(server, 'POST', '/1.0/keys', master, { name: 'before-the-kill' });
        const held = Date.now();
        while (receiver.connections === 0 && Date.now() - held < 5000) await sleep(10);
        expect(receiver.connections).toBeGreaterThan(0);
        server.kill('SIGKILL');
        await server.waitForExit(10_000);
        receiver.delayMs = 0;

        server = await startServer({ dataDir, secret, databaseUrl, env });
        const restarted = Date.now();
        // SQLite: the one instance takes its claims back at start; PostgreSQL: the lease (15 s)
        // of the dead instance lapses first.
        await receiver.until((r) => r.some((x) => x.json.type === 'key.created'), 25_000);
        const got = receiver.ofType('key.created');
        expect(got.length).toBeGreaterThanOrEqual(1);
        expect(verify(hook.secret, got[0])).toBe(true);
        expect(got[0].json.data).toMatchObject({ name: 'before-the-kill' });
        process.stdout.write(
          `[${provider}] redelivered ${Date.now() - restarted} ms after the restart\n`,
        );
        const page = await call<{ deliveries: { status: string; eventId: string }[] }>(
          server,
          'GET',
          `/1.0/webhooks/${hook.id}/deliveries`,
          master,
        );
        expect(page.deliveries).toHaveLength(1);
        expect(page.deliveries[0].eventId).toBe(got[0].id);
        for (let i = 0; i < 50 && page.deliveries[0].status !== 'delivered'; i++) {
          await sleep(100);
          Object.assign(
            page,
            await call(server, 'GET', `/1.0/webhooks/${hook.id}/deliveries`, master),
          );
        }
        expect(page.deliveries[0].status).toBe('delivered');
      } finally {
        await server.stop();
      }
    }, 60_000);
  });
}

if (providers().includes('postgresql')) {
  describe('two instances on one PostgreSQL', () => {
    const receiver = new WebhookReceiver();
    let databaseUrl: string;
    const dirs: string[] = [];
    const servers: ServerProcess[] = [];
    const secret = randomBytes(32).toString('hex');

    beforeAll(async () => {
      await receiver.listen();
      databaseUrl = await createDatabase();
      for (let i = 0; i < 2; i++) {
        const dataDir = mkdtempSync(path.join(tmpdir(), 'keymeter-hooks-two-'));
        dirs.push(dataDir);
        servers.push(await startServer({ dataDir, secret, databaseUrl, env }));
      }
    });
    afterAll(async () => {
      for (const server of servers) await server.stop();
      await receiver.close();
      if (databaseUrl) await dropDatabase(databaseUrl);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it('never deliver one attempt twice: each event arrives once per attempt', async () => {
      const [a, b] = servers;
      const master = await register(a);
      await call(a, 'POST', '/1.0/webhooks', master, {
        url: receiver.url('/two'),
        events: ['key.created', 'key.deleted'],
      });
      // Every event's first attempt fails, its second succeeds: two arrivals per event id.
      const seen = new Map<string, number>();
      receiver.status = (r) => {
        const n = (seen.get(r.id) ?? 0) + 1;
        seen.set(r.id, n);
        return n === 1 ? 503 : 200;
      };
      const N = 40;
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          call(i % 2 === 0 ? a : b, 'POST', '/1.0/keys', master, { name: `k${i}` }),
        ),
      );
      // First attempts at once, second ones 5 s (± 20 %) later.
      await receiver.until((r) => r.length >= 2 * N, 20_000);
      await sleep(1500);
      const perEvent = new Map<string, number>();
      for (const r of receiver.received) perEvent.set(r.id, (perEvent.get(r.id) ?? 0) + 1);
      expect(perEvent.size).toBe(N);
      expect([...perEvent.values()].every((n) => n === 2)).toBe(true);
      expect(receiver.received).toHaveLength(2 * N);
      // Both instances delivered, and together recorded one outcome per attempt.
      const outcomes = await Promise.all(servers.map(outcomesOf));
      expect(outcomes.reduce((sum, o) => sum + o.delivered, 0)).toBe(N);
      expect(outcomes.reduce((sum, o) => sum + o.failed_attempt, 0)).toBe(N);
      process.stdout.write(`two instances: attempts recorded ${JSON.stringify(outcomes)}\n`);
      expect(outcomes.every((o) => o.delivered + o.failed_attempt > 0)).toBe(true);
    }, 60_000);
  });
}
