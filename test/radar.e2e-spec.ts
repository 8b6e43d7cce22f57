import { randomBytes, randomUUID } from 'node:crypto';
import type TestAgent from 'supertest/lib/agent';
import { PrismaService } from '../src/prisma/prisma.service';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { describeEachDatabase, providers, startApp, TestApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { expectEnvelope } from './helpers/envelope';

const KEY_SHAPE = /^km_[0-9A-Za-z]{46}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const ANALYTICS_FIELDS = [
  'totalApiKeys',
  'totalUsage',
  'activeApiKeys',
  'inactiveApiKeys',
  'mostUsedApiKey',
  'leastUsedApiKey',
  'averageUsagePerKey',
  'apiKeyDetails',
];
const HIGHLIGHT_FIELDS = ['id', 'name', 'usageCount', 'lastUsedAt'];
const DETAIL_FIELDS = ['id', 'name', 'usageCount', 'lastUsedAt', 'isActive', 'createdAt'];

interface ListedKey {
  id: string;
  key: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
  usageCount: number;
  isActive: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const credentials = (owner: TestAccount) => ({ email: owner.email, password: owner.password });

async function generate(http: TestAgent, owner: TestAccount, name?: string) {
  const res = await http
    .post('/api/v1/keys/generate')
    .send({ ...credentials(owner), ...(name === undefined ? {} : { name }) })
    .expect(201);
  return res.body.data as { apiKey: string; id: string; name: string };
}

async function listKeys(http: TestAgent, owner: TestAccount): Promise<ListedKey[]> {
  const res = await http.post('/api/v1/keys/getApiKeys').send(credentials(owner)).expect(200);
  expect(res.body.success).toBe(true);
  return res.body.data.apiKeys as ListedKey[];
}

async function listed(http: TestAgent, owner: TestAccount, id: string): Promise<ListedKey> {
  const key = (await listKeys(http, owner)).find((k) => k.id === id);
  if (!key) throw new Error(`key ${id} is not listed`);
  return key;
}

/** `calls` metered requests made with `key`, each to GET /1.0/me with the x-api-key header. */
async function use(http: TestAgent, key: string, calls: number): Promise<void> {
  for (let i = 0; i < calls; i++) await http.get('/1.0/me').set('x-api-key', key).expect(200);
}

describeEachDatabase('the Radar-compatible key API', (ctx) => {
  it('generates a key for the email and password in the body and returns it once in full', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const res = await http
      .post('/api/v1/keys/generate')
      .send({ ...credentials(owner), name: 'mobile app' })
      .expect(201);
    expect(res.body).toEqual({
      success: true,
      data: expect.objectContaining({
        apiKey: expect.stringMatching(KEY_SHAPE),
        id: expect.stringMatching(UUID),
        name: 'mobile app',
      }),
    });
    expect(res.body.data.apiKey).not.toBe(owner.masterKey);
    await http.get('/1.0/me').set('x-api-key', res.body.data.apiKey).expect(200);
  });

  it('lists every key of the account with the real key, its dates, usage count and status', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const before = Date.now();
    const made = await generate(http, owner, 'website');
    const after = Date.now();

    const keys = await listKeys(http, owner);
    expect(keys.map((k) => k.id)).toEqual([owner.masterKeyId, made.id]);
    expect(keys[0]).toMatchObject({ key: owner.masterKey, name: 'master', isActive: true });
    const key = keys[1];
    expect(key).toEqual(
      expect.objectContaining({
        id: made.id,
        key: made.apiKey,
        name: 'website',
        createdAt: expect.stringMatching(ISO),
        updatedAt: expect.stringMatching(ISO),
        lastUsedAt: null,
        usageCount: 0,
        isActive: true,
      }),
    );
    const createdAt = Date.parse(key.createdAt);
    expect(createdAt).toBeGreaterThanOrEqual(before - 5);
    expect(createdAt).toBeLessThanOrEqual(after + 5);
  });

  it('counts every call made with a key at once, and moves its lastUsedAt forward', async () => {
    const { http, app } = ctx();
    const owner = await account(http);
    const made = await generate(http, owner, 'counted');

    const start = Date.now();
    await use(http, made.apiKey, 3);
    const end = Date.now();
    const first = await listed(http, owner, made.id);
    expect(first.usageCount).toBe(3);
    expect(first.lastUsedAt).toMatch(ISO);
    const firstUse = Date.parse(first.lastUsedAt!);
    expect(firstUse).toBeGreaterThanOrEqual(start);
    expect(firstUse).toBeLessThanOrEqual(end);

    await sleep(20);
    const secondStart = Date.now();
    await use(http, made.apiKey, 2);
    const second = await listed(http, owner, made.id);
    expect(second.usageCount).toBe(5);
    const secondUse = Date.parse(second.lastUsedAt!);
    expect(secondUse).toBeGreaterThan(firstUse);
    expect(secondUse).toBeGreaterThanOrEqual(secondStart);

    await app.get(UsageMeter).flush();
    const flushed = await listed(http, owner, made.id);
    expect(flushed.usageCount).toBe(5);
    expect(flushed.lastUsedAt).toBe(second.lastUsedAt);
    const row = await app.get(PrismaService).db.apiKey.findUnique({ where: { id: made.id } });
    expect(Number(row?.usageCount)).toBe(5);
    expect(row?.lastUsedAt?.toISOString()).toBe(second.lastUsedAt);
  });

  it('answers usageAnalytics with exact statistics over all keys, the master key included', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const busy = await generate(http, owner, 'busy');
    await sleep(5);
    const quiet = await generate(http, owner, 'quiet');
    await sleep(5);
    const idle = await generate(http, owner, 'idle');

    await use(http, busy.apiKey, 6);
    await use(http, quiet.apiKey, 2);
    // One request with the master key: metered like any other.
    const patched = await http
      .patch(`/1.0/keys/${idle.id}`)
      .set('Authorization', basic(owner.masterKey))
      .send({ isActive: false })
      .expect(200);
    expect(patched.body.apiKey.isActive).toBe(false);

    const keys = await listKeys(http, owner);
    const byId = new Map(keys.map((k) => [k.id, k]));
    const master = byId.get(owner.masterKeyId)!;
    expect(master.usageCount).toBe(1);
    expect(byId.get(idle.id)!.isActive).toBe(false);

    const res = await http.post('/api/v1/keys/usageAnalytics').send(credentials(owner)).expect(200);
    expect(res.body.success).toBe(true);
    const data = res.body.data;
    expect(Object.keys(data)).toEqual(ANALYTICS_FIELDS);
    const highlight = (id: string) => {
      const k = byId.get(id)!;
      return { id: k.id, name: k.name, usageCount: k.usageCount, lastUsedAt: k.lastUsedAt };
    };
    const detail = (id: string) => {
      const k = byId.get(id)!;
      return { ...highlight(id), isActive: k.isActive, createdAt: k.createdAt };
    };
    expect(data).toEqual({
      totalApiKeys: 4,
      totalUsage: 9,
      activeApiKeys: 3,
      inactiveApiKeys: 1,
      mostUsedApiKey: highlight(busy.id),
      leastUsedApiKey: highlight(idle.id),
      averageUsagePerKey: 2.25,
      apiKeyDetails: [owner.masterKeyId, busy.id, quiet.id, idle.id].map(detail),
    });
    expect(data.mostUsedApiKey.usageCount).toBe(6);
    expect(data.leastUsedApiKey).toEqual({
      id: idle.id,
      name: 'idle',
      usageCount: 0,
      lastUsedAt: null,
    });
    expect(Object.keys(data.mostUsedApiKey)).toEqual(HIGHLIGHT_FIELDS);
    expect(Object.keys(data.leastUsedApiKey)).toEqual(HIGHLIGHT_FIELDS);
    for (const item of data.apiKeyDetails) expect(Object.keys(item)).toEqual(DETAIL_FIELDS);
    expect(JSON.stringify(res.body)).not.toContain(busy.apiKey);
  });

  it('answers usageAnalytics for one key alone when apiKeyId is given', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const one = await generate(http, owner, 'one');
    await generate(http, owner, 'other');
    await use(http, one.apiKey, 3);
    const key = await listed(http, owner, one.id);

    const res = await http
      .post('/api/v1/keys/usageAnalytics')
      .send({ ...credentials(owner), apiKeyId: one.id })
      .expect(200);
    const highlight = { id: one.id, name: 'one', usageCount: 3, lastUsedAt: key.lastUsedAt };
    expect(res.body).toEqual({
      success: true,
      data: {
        totalApiKeys: 1,
        totalUsage: 3,
        activeApiKeys: 1,
        inactiveApiKeys: 0,
        mostUsedApiKey: highlight,
        leastUsedApiKey: highlight,
        averageUsagePerKey: 3,
        apiKeyDetails: [{ ...highlight, isActive: true, createdAt: key.createdAt }],
      },
    });
    expect(Object.keys(res.body.data)).toEqual(ANALYTICS_FIELDS);
  });

  it('answers 404 for the apiKeyId of another account, exactly as for an unknown one', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const stranger = await account(http);
    const theirs = await generate(http, stranger, 'theirs');
    const foreign = await http
      .post('/api/v1/keys/usageAnalytics')
      .send({ ...credentials(owner), apiKeyId: theirs.id })
      .expect(404);
    expectEnvelope(foreign.body, 404);
    expect(JSON.stringify(foreign.body)).not.toContain('theirs');
    const unknown = await http
      .post('/api/v1/keys/usageAnalytics')
      .send({ ...credentials(owner), apiKeyId: randomUUID() })
      .expect(404);
    expect(unknown.body).toEqual(foreign.body);
  });

  it('refuses an apiKeyId that is not a uuid with 400', async () => {
    const { http } = ctx();
    const owner = await account(http);
    for (const apiKeyId of ['not-a-uuid', owner.masterKey, 42]) {
      const res = await http
        .post('/api/v1/keys/usageAnalytics')
        .send({ ...credentials(owner), apiKeyId })
        .expect(400);
      expectEnvelope(res.body, 400);
      expect(JSON.stringify(res.body.message)).toMatch(/apiKeyId/);
      expect(JSON.stringify(res.body)).not.toContain(owner.masterKey);
    }
  });

  it('gives a generated key without a name a default name that is not taken', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const first = await generate(http, owner);
    const second = await generate(http, owner);
    expect(first.name).toBe('API key 1');
    expect(second.name).toBe('API key 2');
    const names = (await listKeys(http, owner)).map((k) => k.name);
    expect(names).toEqual(['master', 'API key 1', 'API key 2']);
  });

  it('refuses a duplicate name in the same account with 409, but not in another account', async () => {
    const { http } = ctx();
    const owner = await account(http);
    await generate(http, owner, 'shared name');
    const again = await http
      .post('/api/v1/keys/generate')
      .send({ ...credentials(owner), name: '  shared name ' })
      .expect(409);
    expectEnvelope(again.body, 409);
    expect(await listKeys(http, owner)).toHaveLength(2);
    const other = await account(http);
    expect((await generate(http, other, 'shared name')).name).toBe('shared name');
  });

  it('answers a wrong password and an unknown email with the same 401 on every route', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const routes = ['generate', 'getApiKeys', 'usageAnalytics'];
    for (const route of routes) {
      const wrongPassword = await http
        .post(`/api/v1/keys/${route}`)
        .send({ email: owner.email, password: `${owner.password}-wrong` })
        .expect(401);
      expectEnvelope(wrongPassword.body, 401);
      const unknownEmail = await http
        .post(`/api/v1/keys/${route}`)
        .send({
          email: `nobody-${randomBytes(4).toString('hex')}@example.com`,
          password: owner.password,
        })
        .expect(401);
      expect(unknownEmail.body).toEqual(wrongPassword.body);
      expect(JSON.stringify(wrongPassword.body)).not.toContain(owner.password);
    }
    expect(await listKeys(http, owner)).toHaveLength(1);
  });

  it('throttles an email after 10 failed attempts with 429 and Retry-After, even with the right password', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const wrong = { email: owner.email, password: 'definitely the wrong one' };
    for (let i = 0; i < 10; i++) {
      await http.post('/api/v1/keys/getApiKeys').send(wrong).expect(401);
    }
    const throttled = await http
      .post('/api/v1/keys/getApiKeys')
      .send(credentials(owner))
      .expect(429);
    expectEnvelope(throttled.body, 429);
    const retryAfter = throttled.headers['retry-after'];
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(15 * 60);
    await http.post('/api/v1/keys/generate').send(credentials(owner)).expect(429);

    // Another email from the same address is not affected.
    const other = await account(http);
    await http.post('/api/v1/keys/getApiKeys').send(credentials(other)).expect(200);
  });

  it('refuses a bad email, a missing password and unknown fields with 400 that says why', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ email: 'not-an-email', password: owner.password }, /email must be a valid email/],
      [{ email: owner.email }, /password/],
      [{ ...credentials(owner), admin: true }, /property admin should not exist/],
      [{ ...credentials(owner), name: '' }, /name must be 1 to 100 characters/],
      [{ ...credentials(owner), name: 'x'.repeat(101) }, /name must be 1 to 100 characters/],
    ];
    for (const route of ['generate', 'getApiKeys', 'usageAnalytics']) {
      for (const [body, message] of cases) {
        if ('name' in body && route !== 'generate') continue;
        const res = await http.post(`/api/v1/keys/${route}`).send(body).expect(400);
        expectEnvelope(res.body, 400);
        expect(JSON.stringify(res.body.message)).toMatch(message);
      }
    }
    expect(await listKeys(http, owner)).toHaveLength(1);
  });
});

describe.each(providers())(
  'the Radar-compatible key API with KEY_STORAGE=hashed and no timed flush [%s]',
  (provider) => {
    let testApp: TestApp | undefined;
    const ctx = () => {
      if (!testApp) throw new Error('the test app did not start');
      return testApp;
    };
    beforeAll(async () => {
      testApp = await startApp(provider, {
        env: { KEY_STORAGE: 'hashed', USAGE_FLUSH_INTERVAL_MS: '3600000' },
      });
    });
    afterAll(async () => {
      await testApp?.close();
    });

    it('lists the masked key and never the plaintext', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const made = await generate(http, owner, 'hidden');
      expect(made.apiKey).toMatch(KEY_SHAPE);
      const res = await http.post('/api/v1/keys/getApiKeys').send(credentials(owner)).expect(200);
      const keys = res.body.data.apiKeys as ListedKey[];
      const key = keys.find((k) => k.id === made.id)!;
      expect(key.key).toBe(`${made.apiKey.slice(0, 7)}${'*'.repeat(42)}`);
      expect(keys.find((k) => k.id === owner.masterKeyId)!.key).toBe(
        `${owner.masterKey.slice(0, 7)}${'*'.repeat(42)}`,
      );
      expect(res.text).not.toContain(made.apiKey);
      expect(res.text).not.toContain(owner.masterKey);
      // The key still works: only its display is gone.
      await use(http, made.apiKey, 1);
    });

    it('shows counts that are not yet written, and the same counts once they are', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const made = await generate(http, owner, 'pending');
      const start = Date.now();
      await use(http, made.apiKey, 4);

      const pending = await listed(http, owner, made.id);
      expect(pending.usageCount).toBe(4);
      expect(Date.parse(pending.lastUsedAt!)).toBeGreaterThanOrEqual(start);
      const prisma = app.get(PrismaService);
      const before = await prisma.db.apiKey.findUnique({ where: { id: made.id } });
      expect(Number(before?.usageCount)).toBe(0);
      expect(before?.lastUsedAt).toBeNull();
      const analytics = await http
        .post('/api/v1/keys/usageAnalytics')
        .send({ ...credentials(owner), apiKeyId: made.id })
        .expect(200);
      expect(analytics.body.data.totalUsage).toBe(4);

      await app.get(UsageMeter).flush();
      const written = await prisma.db.apiKey.findUnique({ where: { id: made.id } });
      expect(Number(written?.usageCount)).toBe(4);
      expect(written?.lastUsedAt?.toISOString()).toBe(pending.lastUsedAt);
      const after = await listed(http, owner, made.id);
      expect(after.usageCount).toBe(4);
      expect(after.lastUsedAt).toBe(pending.lastUsedAt);
    });
  },
);
