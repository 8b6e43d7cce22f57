import { describeEachDatabase } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { createKey, messageOf } from './helpers/optidash-fixtures';

interface ListedKey {
  id: string;
  usageCount: number;
  volume: number;
  rateLimit?: unknown;
  quota: { used: Record<string, number> } & Record<string, unknown>;
}

describeEachDatabase('rate limits and quotas', (ctx) => {
  let owner: TestAccount;
  const master = () => ({ Authorization: basic(owner.masterKey) });
  const as = (key: string) => ({ Authorization: basic(key) });

  beforeAll(async () => {
    owner = await account(ctx().http);
  });

  /** The key as GET /1.0/keys lists it. */
  async function listed(key: string, headers = master()) {
    const { body } = await ctx().http.get('/1.0/keys').set(headers).expect(200);
    return (body.keys as { key: string }[]).find((k) => k.key === key) as unknown as ListedKey;
  }

  async function limitedKey(name: string, limits: object) {
    const res = await ctx()
      .http.post('/1.0/keys')
      .set(master())
      .send({ name, ...limits })
      .expect(200);
    // The creation answer keeps its published shape.
    expect(Object.keys(res.body as object).sort()).toEqual(['key', 'name', 'success']);
    return res.body.key as string;
  }

  it('a quota of N admits exactly N of many concurrent requests, then USAGE_EXCEEDED', async () => {
    const key = await limitedKey('quota-50', { quota: { requests: 50, period: 'month' } });
    const answers = await Promise.all(
      Array.from({ length: 120 }, () => ctx().http.get('/1.0/me').set(as(key))),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(70);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.body).toEqual({
      success: false,
      statusCode: 429,
      error: 'Too Many Requests',
      message: messageOf(refused.body),
      code: 'USAGE_EXCEEDED',
    });
    const now = new Date();
    const reset = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(Math.abs(retryAfter - (reset - Date.now()) / 1000)).toBeLessThan(5);
    expect(refused.headers['ratelimit']).toMatch(/^"quota";r=0;t=\d+$/);

    const shown = await listed(key);
    expect(shown.usageCount).toBe(50);
    expect(shown.quota).toEqual({
      requests: 50,
      period: 'month',
      source: 'key',
      used: { requests: 50 },
      resetsAt: new Date(reset).toISOString(),
    });
  });

  it('sends RateLimit headers for the limit closest to running out', async () => {
    const key = await limitedKey('headers', {
      rateLimit: { limit: 5, windowSeconds: 60 },
      quota: { requests: 1000, period: 'day' },
    });
    const first = await ctx().http.get('/1.0/me').set(as(key)).expect(200);
    expect(first.headers['ratelimit-policy']).toBe('"rate";q=5;w=60');
    expect(first.headers['ratelimit']).toBe('"rate";r=4;t=60');
    expect(first.body.key.rateLimit).toEqual({ limit: 5, windowSeconds: 60, source: 'key' });
    for (let i = 0; i < 4; i++) await ctx().http.get('/1.0/me').set(as(key)).expect(200);
    const limited = await ctx().http.get('/1.0/me').set(as(key)).expect(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(59);
    // A refused request is not a use, and does not consume the quota.
    const shown = await listed(key);
    expect(shown.usageCount).toBe(5);
    expect(shown.quota.used).toEqual({ requests: 5 });

    // ... it is counted apart: include=traffic shows it; the published answer is unchanged.
    const traffic = await ctx()
      .http.get(`/1.0/keys/${key}`)
      .query({ include: 'traffic', interval: 'day' })
      .set(master())
      .expect(200);
    const today = traffic.body.results.at(-1);
    expect(today).toMatchObject({ volume: 0, count: 5, refused: 1, status2xx: 5, status4xx: 0 });
    const plain = await ctx().http.get(`/1.0/keys/${key}`).query({ interval: 'day' }).set(master());
    expect(Object.keys(plain.body.results.at(-1)).sort()).toEqual(['bucket', 'count', 'volume']);
    const csv = await ctx()
      .http.get(`/1.0/keys/${key}`)
      .query({ include: 'traffic', interval: 'day', format: 'csv' })
      .set(master())
      .expect(200);
    expect(csv.text.split('\n')[0]).toMatch(/^bucket,volume,count,refused,volumeOut,/);
    expect(csv.text.trim().split('\n').at(-1)).toMatch(/^[^,]+,0,5,1,/);
    await ctx().http.get(`/1.0/keys/${key}`).query({ include: 'all' }).set(master()).expect(400);
  });

  it('a rate-limited request reaches no handler: a refused PATCH changes nothing', async () => {
    const key = await limitedKey('limited-master-route', {
      rateLimit: { limit: 1, windowSeconds: 60 },
    });
    await ctx().http.get('/1.0/me').set(as(key)).expect(200);
    // /1.0/me/usage is a handler too: refused before it runs.
    await ctx().http.get('/1.0/me/usage').set(as(key)).expect(429);
  });

  it('keys without limits keep the published shape and get no RateLimit headers', async () => {
    const plain = await createKey(ctx().http, owner.masterKey, 'unlimited');
    const res = await ctx().http.get('/1.0/me').set(as(plain.key)).expect(200);
    expect(res.headers).not.toHaveProperty('ratelimit');
    expect(res.body.key).not.toHaveProperty('rateLimit');
    expect(res.body.key).not.toHaveProperty('quota');
  });

  it('PATCH sets, changes and removes (null) limits, and the next request sees it', async () => {
    const created = await createKey(ctx().http, owner.masterKey, 'patched-limits');
    const set = await ctx()
      .http.patch(`/1.0/keys/${created.id}`)
      .set(master())
      .send({ quota: { requests: 1, period: 'total' } })
      .expect(200);
    expect(set.body.apiKey.quota).toMatchObject({ requests: 1, period: 'total', resetsAt: null });
    await ctx().http.get('/1.0/me').set(as(created.key)).expect(200);
    const over = await ctx().http.get('/1.0/me').set(as(created.key)).expect(429);
    expect(over.body.code).toBe('USAGE_EXCEEDED');
    expect(over.headers).not.toHaveProperty('retry-after');

    const cleared = await ctx()
      .http.patch(`/1.0/keys/${created.id}`)
      .set(master())
      .send({ quota: null })
      .expect(200);
    expect(cleared.body.apiKey).not.toHaveProperty('quota');
    await ctx().http.get('/1.0/me').set(as(created.key)).expect(200);

    const audit = await ctx()
      .http.get('/1.0/audit')
      .query({ action: 'key.limits_changed', keyId: created.id })
      .set(master())
      .expect(200);
    expect(audit.body.entries).toHaveLength(2);
  });

  it("a roll gives the successor the old key's limits", async () => {
    const created = await createKey(ctx().http, owner.masterKey, 'rolled-limits');
    await ctx()
      .http.patch(`/1.0/keys/${created.id}`)
      .set(master())
      .send({ rateLimit: { limit: 7, windowSeconds: 30 } })
      .expect(200);
    const rolled = await ctx().http.post(`/1.0/keys/${created.id}/roll`).set(master()).expect(200);
    const successor = await listed(rolled.body.key as string);
    expect(successor.rateLimit).toEqual({ limit: 7, windowSeconds: 30, source: 'key' });
  });

  it.each([
    [{ rateLimit: { limit: 0, windowSeconds: 60 } }, 'rateLimit.limit: must be at least 1'],
    [{ rateLimit: { limit: 10 } }, 'windowSeconds'],
    [{ rateLimit: { limit: 10, windowSeconds: 100000 } }, 'at most 86400'],
    [{ rateLimit: 5 }, 'rateLimit'],
    [{ rateLimit: [{ limit: 5, windowSeconds: 60 }] }, 'rateLimit must be an object'],
    [{ quota: [] }, 'quota must be an object'],
    [{ quota: { requests: 10, period: 'week' } }, 'quota.period: must be one of day, month, total'],
    [{ quota: { period: 'day' } }, 'quota must set requests, volumeBytes or both'],
    [{ quota: { requests: 1.5, period: 'day' } }, 'whole number'],
    [{ quota: { requests: 10, period: 'day', extra: 1 } }, 'extra'],
  ])('refuses %j with a 400 that says what to fix', async (limits, message) => {
    const created = await createKey(ctx().http, owner.masterKey, `bad-${Math.random()}`);
    const res = await ctx()
      .http.patch(`/1.0/keys/${created.id}`)
      .set(master())
      .send(limits)
      .expect(400);
    expect(messageOf(res.body)).toContain(message);
    const create = await ctx()
      .http.post('/1.0/keys')
      .set(master())
      .send({ name: `bad-create-${Math.random()}`, ...limits })
      .expect(400);
    expect(messageOf(create.body)).toContain(message);
  });

  it('verify consumes one use atomically with the check and says what is left', async () => {
    const key = await limitedKey('verified', {
      quota: { requests: 3, volumeBytes: 1000, period: 'day' },
    });
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        ctx().http.post('/1.0/verify').set(master()).send({ key, volume: 100 }),
      ),
    );
    const valid = answers.filter((a) => a.body.valid === true);
    expect(valid).toHaveLength(3);
    const refused = answers.find((a) => a.body.valid === false)!;
    expect(refused.body).toMatchObject({ code: 'USAGE_EXCEEDED', remaining: { requests: 0 } });
    expect(refused.body.retryAfterSeconds).toBeGreaterThan(0);
    const remaining = valid.map((a) => a.body.remaining.requests as number).sort();
    expect(remaining).toEqual([0, 1, 2]);
    const shown = await listed(key);
    expect(shown).toMatchObject({ usageCount: 3, volume: 300 });
    expect(shown.quota.used).toEqual({ requests: 3, volumeBytes: 300 });
  });

  it('refuses a body that would cross a volume quota before its handler runs', async () => {
    // A master key follows a limit set on it: a separate account's, to leave the others alone.
    const other = await account(ctx().http);
    const m = { Authorization: basic(other.masterKey) };
    const masterId = (await listed(other.masterKey, m)).id as string;
    await ctx()
      .http.patch(`/1.0/keys/${masterId}`)
      .set(m)
      .send({ quota: { volumeBytes: 100, period: 'day' } })
      .expect(200);
    const body = JSON.stringify({ key: 'x'.repeat(30) }); // 40 bytes
    const send = () =>
      ctx().http.post('/1.0/verify').set(m).set('Content-Type', 'application/json').send(body);
    expect((await send()).status).toBe(200);
    expect((await send()).status).toBe(200);
    const over = await send();
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('USAGE_EXCEEDED');
    // A body-less GET needs no bytes, so the listing still answers, and shows the exact use.
    const shown = await listed(other.masterKey, m);
    expect(shown.quota.used).toEqual({ volumeBytes: 80 });
  });

  it('account defaults apply to keys without their own, never to the master key', async () => {
    const other = await account(ctx().http);
    const m = { Authorization: basic(other.masterKey) };
    const plain = await createKey(ctx().http, other.masterKey, 'follows-default');
    const own = await ctx()
      .http.post('/1.0/keys')
      .set(m)
      .send({ name: 'own-limit', rateLimit: { limit: 100, windowSeconds: 1 } })
      .expect(200);
    await ctx().http.get('/1.0/me').set(as(plain.key)).expect(200);

    const put = await ctx()
      .http.put('/1.0/limits')
      .set(m)
      .send({ rateLimit: { limit: 1, windowSeconds: 3600 } })
      .expect(200);
    expect(put.body).toEqual({
      success: true,
      rateLimit: { limit: 1, windowSeconds: 3600 },
      quota: null,
    });
    expect((await ctx().http.get('/1.0/limits').set(m).expect(200)).body).toEqual(put.body);

    // The cached key follows the new default at once.
    await ctx().http.get('/1.0/me').set(as(plain.key)).expect(200);
    await ctx().http.get('/1.0/me').set(as(plain.key)).expect(429);
    for (let i = 0; i < 3; i++) {
      await ctx()
        .http.get('/1.0/me')
        .set(as(own.body.key as string))
        .expect(200);
      await ctx().http.get('/1.0/me').set(m).expect(200);
    }
    const listed = await ctx().http.get('/1.0/keys').set(m).expect(200);
    const byName = new Map((listed.body.keys as { name: string }[]).map((k) => [k.name, k]));
    expect(byName.get('follows-default')).toMatchObject({
      rateLimit: { limit: 1, windowSeconds: 3600, source: 'account' },
    });
    expect(byName.get('master')).not.toHaveProperty('rateLimit');

    await ctx().http.put('/1.0/limits').set(m).send({ rateLimit: null }).expect(200);
    await ctx().http.get('/1.0/me').set(as(plain.key)).expect(200);
    await ctx()
      .http.put('/1.0/limits')
      .set(m)
      .send({ quota: { requests: -1, period: 'day' } })
      .expect(400);
  });
});
