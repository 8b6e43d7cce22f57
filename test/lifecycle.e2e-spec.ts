import { describeEachDatabase, providers, startApp, TestApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { createKey, expectEnvelope, messageOf } from './helpers/optidash-fixtures';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

describeEachDatabase('key expiry', (ctx) => {
  let owner: TestAccount;
  const master = () => ({ Authorization: basic(owner.masterKey) });

  beforeAll(async () => {
    owner = await account(ctx().http);
  });

  async function keyExpiringIn(ms: number, name: string) {
    const res = await ctx()
      .http.post('/1.0/keys')
      .set(master())
      .send({ name, expiresAt: inMs(ms) })
      .expect(200);
    // The creation answer keeps its published shape.
    expect(Object.keys(res.body as object).sort()).toEqual(['key', 'name', 'success']);
    return res.body.key as string;
  }

  it('lets a key in until its expiresAt, then refuses it with EXPIRED everywhere', async () => {
    const key = await keyExpiringIn(1500, 'short-lived');
    await ctx().http.get('/1.0/me').set('Authorization', basic(key)).expect(200);
    const verified = await ctx().http.post('/1.0/verify').set(master()).send({ key }).expect(200);
    expect(verified.body).toMatchObject({ valid: true, code: 'VALID' });

    await sleep(1600);
    const refused = await ctx().http.get('/1.0/me').set('Authorization', basic(key)).expect(401);
    expect(refused.body).toEqual({
      success: false,
      statusCode: 401,
      error: 'Unauthorized',
      message: 'the API key has expired',
      code: 'EXPIRED',
    });
    const after = await ctx().http.post('/1.0/verify').set(master()).send({ key }).expect(200);
    expect(after.body).toMatchObject({ valid: false, code: 'EXPIRED', name: 'short-lived' });
  });

  it('lists expiresAt on keys that have one, and only on them', async () => {
    const at = inMs(86_400_000);
    await ctx().http.post('/1.0/keys').set(master()).send({ name: 'dated', expiresAt: at });
    await createKey(ctx().http, owner.masterKey, 'undated');
    const { body } = await ctx().http.get('/1.0/keys').set(master()).expect(200);
    const byName = new Map((body.keys as { name: string }[]).map((k) => [k.name, k]));
    expect(byName.get('dated')).toMatchObject({ expiresAt: at });
    expect(byName.get('undated')).not.toHaveProperty('expiresAt');
    expect(byName.get('master')).not.toHaveProperty('expiresAt');
  });

  it('PATCH sets and clears (null) an expiry, and the next request sees it', async () => {
    const created = await createKey(ctx().http, owner.masterKey, 'patched');
    const soon = inMs(800);
    const set = await ctx()
      .http.patch(`/1.0/keys/${created.id}`)
      .set(master())
      .send({ expiresAt: soon })
      .expect(200);
    expect(set.body.apiKey.expiresAt).toBe(soon);
    await sleep(900);
    await ctx().http.get('/1.0/me').set('Authorization', basic(created.key)).expect(401);

    const cleared = await ctx()
      .http.patch(`/1.0/keys/${created.id}`)
      .set(master())
      .send({ expiresAt: null })
      .expect(200);
    expect(cleared.body.apiKey).not.toHaveProperty('expiresAt');
    await ctx().http.get('/1.0/me').set('Authorization', basic(created.key)).expect(200);
  });

  it.each([
    [{ expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt must be in the future'],
    [{ expiresAt: 'next week' }, 'expiresAt'],
    [{ expiresAt: 1_900_000_000_000 }, 'expiresAt must be an ISO-8601 date and time'],
    [{ expiresAt: '2027-02-30T00:00:00Z' }, 'February 2027 has 28 days'],
    [{ expiresAt: '2999-01-01T00:00:00Z' }, 'at most 100 years ahead'],
  ])('refuses %j with a 400 that says why, and creates nothing', async (extra, why) => {
    const name = `bad-expiry-${Math.random()}`;
    const res = await ctx()
      .http.post('/1.0/keys')
      .set(master())
      .send({ name, ...extra })
      .expect(400);
    expectEnvelope(res.body, 400);
    expect(messageOf(res.body)).toContain(why);
    const { body } = await ctx().http.get('/1.0/keys').set(master()).expect(200);
    expect((body.keys as { name: string }[]).map((k) => k.name)).not.toContain(name);
  });

  it("Radar's generate takes an expiresAt and answers with it", async () => {
    const at = inMs(3_600_000);
    const res = await ctx()
      .http.post('/api/v1/keys/generate')
      .send({ email: owner.email, password: owner.password, name: 'radar-dated', expiresAt: at })
      .expect(201);
    expect(res.body.data).toMatchObject({ name: 'radar-dated', expiresAt: at });
    const plain = await ctx()
      .http.post('/api/v1/keys/generate')
      .send({ email: owner.email, password: owner.password, name: 'radar-plain' })
      .expect(201);
    expect(plain.body.data).not.toHaveProperty('expiresAt');
  });
});

describeEachDatabase('request ids', (ctx) => {
  it('echoes a sane x-request-id and makes one up otherwise, on answers and refusals', async () => {
    const given = await ctx().http.get('/health').set('x-request-id', 'trace-42/a').expect(200);
    expect(given.headers['x-request-id']).toBe('trace-42/a');

    const insane = await ctx().http.get('/1.0/me').set('x-request-id', 'has space').expect(401);
    expect(insane.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const a = await ctx().http.get('/health');
    const b = await ctx().http.get('/health');
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });
});

describeEachDatabase('key roll', (ctx) => {
  let owner: TestAccount;
  const master = () => ({ Authorization: basic(owner.masterKey) });
  const me = (key: string) => ctx().http.get('/1.0/me').set('Authorization', basic(key));
  const total = async (ref: string, query = '') => {
    const res = await ctx()
      .http.get(`/1.0/keys/${ref}?interval=month${query}`)
      .set(master())
      .expect(200);
    return (res.body.results as { count: number }[]).reduce((sum, p) => sum + p.count, 0);
  };

  beforeAll(async () => {
    owner = await account(ctx().http);
  });

  it('replaces a key at once: same name, new secret, the old one EXPIRED from now on', async () => {
    const old = await createKey(ctx().http, owner.masterKey, 'rolled-now');
    const res = await ctx()
      .http.post(`/1.0/keys/${old.id}/roll`)
      .set(master())
      .send({})
      .expect(200);
    expect(res.body).toEqual({
      success: true,
      name: 'rolled-now',
      key: expect.stringMatching(/^km_/),
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      previous: { id: old.id, expiresAt: expect.any(String) },
    });
    expect(res.body.key).not.toBe(old.key);
    expect((await me(old.key).expect(401)).body.code).toBe('EXPIRED');
    await me(res.body.key as string).expect(200);

    const { body } = await ctx().http.get('/1.0/keys').set(master()).expect(200);
    const named = (body.keys as { id: string; name: string }[]).filter(
      (k) => k.name === 'rolled-now',
    );
    expect(named).toEqual([
      expect.objectContaining({ id: old.id, successorId: res.body.id }),
      expect.not.objectContaining({ successorId: expect.anything() }),
    ]);
    const [entry] = (await ctx().http.get('/1.0/audit?action=key.rolled').set(master())).body
      .entries as { target: { keyId: string }; changes: Record<string, unknown> }[];
    expect(entry.target.keyId).toBe(old.id);
    expect(entry.changes).toMatchObject({ successorId: { before: null, after: res.body.id } });
  });

  it('keeps the old key working through its grace, then refuses it', async () => {
    const old = await createKey(ctx().http, owner.masterKey, 'rolled-grace');
    const res = await ctx()
      .http.post(`/1.0/keys/${old.key}/roll`)
      .set(master())
      .send({ gracePeriodSeconds: 2 })
      .expect(200);
    const graceEnd = Date.parse(res.body.previous.expiresAt as string);
    expect(graceEnd - Date.now()).toBeGreaterThan(1000);
    await me(old.key).expect(200);
    await me(res.body.key as string).expect(200);
    await new Promise((resolve) => setTimeout(resolve, graceEnd - Date.now() + 50));
    await me(old.key).expect(401);
    await me(res.body.key as string).expect(200);
  });

  it('keeps usage with each key, and sums the lineage on request from either end', async () => {
    const first = await createKey(ctx().http, owner.masterKey, 'lineage');
    for (let i = 0; i < 3; i++) await me(first.key).expect(200);
    const second = await ctx()
      .http.post(`/1.0/keys/${first.id}/roll`)
      .set(master())
      .send({ gracePeriodSeconds: 60 })
      .expect(200);
    for (let i = 0; i < 2; i++) await me(second.body.key as string).expect(200);
    const third = await ctx()
      .http.post(`/1.0/keys/${second.body.id}/roll`)
      .set(master())
      .send({})
      .expect(200);
    await me(third.body.key as string).expect(200);

    expect(await total(first.id)).toBe(3);
    expect(await total(second.body.id as string)).toBe(2);
    expect(await total(third.body.id as string)).toBe(1);
    expect(await total(first.id, '&lineage=true')).toBe(6);
    expect(await total(third.body.key as string, '&lineage=true')).toBe(6);
    expect(await total(third.body.id as string, '&lineage=false')).toBe(1);
  });

  it('refuses a second roll of one key, also two at once, and a bad grace', async () => {
    const old = await createKey(ctx().http, owner.masterKey, 'rolled-twice');
    const both = await Promise.all(
      [0, 1].map(() =>
        ctx().http.post(`/1.0/keys/${old.id}/roll`).set(master()).send({ gracePeriodSeconds: 60 }),
      ),
    );
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    const again = await ctx().http.post(`/1.0/keys/${old.id}/roll`).set(master()).send({});
    expect(again.status).toBe(409);
    expect(messageOf(again.body)).toContain('already rolled');
    for (const [grace, why] of [
      [-1, 'must not be negative'],
      [2_592_001, 'at most 2592000'],
      [1.5, 'whole number'],
      ['60', 'whole number'],
    ] as const) {
      const res = await ctx()
        .http.post(`/1.0/keys/${old.key}/roll`)
        .set(master())
        .send({ gracePeriodSeconds: grace })
        .expect(400);
      expect(messageOf(res.body)).toContain(why);
    }
    const { body } = await ctx().http.get('/1.0/keys').set(master());
    expect((body.keys as { name: string }[]).filter((k) => k.name === 'rolled-twice')).toHaveLength(
      2,
    );
  });

  it('never lets a grace outlast the expiry the old key already had', async () => {
    const soon = new Date(Date.now() + 60_000).toISOString();
    await ctx().http.post('/1.0/keys').set(master()).send({ name: 'dated-roll', expiresAt: soon });
    const res = await ctx()
      .http.post('/1.0/keys/dated-roll/roll')
      .set(master())
      .send({ gracePeriodSeconds: 3600 });
    // Keys are named by id or by the key itself, never by name.
    expect(res.status).toBe(404);
    const { body } = await ctx().http.get('/1.0/keys').set(master());
    const dated = (body.keys as { id: string; name: string }[]).find(
      (k) => k.name === 'dated-roll',
    )!;
    const rolled = await ctx()
      .http.post(`/1.0/keys/${dated.id}/roll`)
      .set(master())
      .send({ gracePeriodSeconds: 3600 })
      .expect(200);
    expect(rolled.body.previous.expiresAt).toBe(soon);
    const listed = await ctx().http.get('/1.0/keys').set(master());
    const successor = (listed.body.keys as { id: string; expiresAt?: string }[]).find(
      (k) => k.id === rolled.body.id,
    );
    expect(successor?.expiresAt).toBe(soon);
  });

  it('keeps a deactivated key deactivated through a roll, and does not roll an expired one', async () => {
    const off = await createKey(ctx().http, owner.masterKey, 'rolled-off');
    await ctx()
      .http.patch(`/1.0/keys/${off.id}`)
      .set(master())
      .send({ isActive: false })
      .expect(200);
    const rolled = await ctx()
      .http.post(`/1.0/keys/${off.id}/roll`)
      .set(master())
      .send({ gracePeriodSeconds: 60 })
      .expect(200);
    await me(rolled.body.key as string).expect(401);
    const { body } = await ctx().http.get('/1.0/keys').set(master());
    const successor = (body.keys as { id: string; isActive: boolean }[]).find(
      (k) => k.id === rolled.body.id,
    );
    expect(successor?.isActive).toBe(false);

    const res = await ctx()
      .http.post('/1.0/keys')
      .set(master())
      .send({ name: 'rolled-expired', expiresAt: new Date(Date.now() + 300).toISOString() })
      .expect(200);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const refused = await ctx()
      .http.post(`/1.0/keys/${res.body.key}/roll`)
      .set(master())
      .send({})
      .expect(409);
    expect(messageOf(refused.body)).toContain('the key has expired');
  });

  it('lets a rolled key be renamed or deactivated, not brought back', async () => {
    const old = await createKey(ctx().http, owner.masterKey, 'rolled-guarded');
    await ctx()
      .http.post(`/1.0/keys/${old.id}/roll`)
      .set(master())
      .send({ gracePeriodSeconds: 60 })
      .expect(200);
    const patch = (body: object) =>
      ctx().http.patch(`/1.0/keys/${old.id}`).set(master()).send(body);
    const forever = await patch({ expiresAt: null }).expect(409);
    expect(messageOf(forever.body)).toContain('not activated or given another expiry');
    await patch({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() }).expect(409);
    await patch({ isActive: false }).expect(200);
    await me(old.key).expect(401);
    await patch({ isActive: true }).expect(409);
    await me(old.key).expect(401);
    await patch({ name: 'rolled-guarded (old)' }).expect(200);
  });

  it('rolls the master key: the new one manages the account, the old one stops', async () => {
    const own = await account(ctx().http);
    const res = await ctx()
      .http.post(`/1.0/keys/${own.masterKeyId}/roll`)
      .set('Authorization', basic(own.masterKey))
      .send({})
      .expect(200);
    expect(res.body.name).toBe('master');
    await ctx().http.get('/1.0/keys').set('Authorization', basic(own.masterKey)).expect(401);
    const { body } = await ctx()
      .http.get('/1.0/keys')
      .set('Authorization', basic(res.body.key as string))
      .expect(200);
    expect((body.keys as { isMaster: boolean }[]).filter((k) => k.isMaster)).toHaveLength(2);
    // A dashboard session stands in for the live master key, not the rolled one.
    const signedIn = await ctx()
      .http.post('/api/v1/auth/session')
      .send({ email: own.email, password: own.password })
      .expect(200);
    const cookie = (signedIn.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
    const session = await ctx().http.get('/api/v1/auth/session').set('Cookie', cookie);
    expect(session.status).toBe(200);
    await ctx().http.get('/1.0/keys').set('Cookie', cookie).expect(200);
  });
});

for (const provider of providers()) {
  describe(`key roll within MAX_KEYS_PER_ACCOUNT [${provider}]`, () => {
    let app: TestApp | undefined;
    afterAll(() => app?.close());

    it('counts rolled keys until they are deleted, so rolls cannot grow an account past the cap', async () => {
      app = await startApp(provider, { env: { MAX_KEYS_PER_ACCOUNT: '3' } });
      const owner = await account(app.http);
      const master = { Authorization: basic(owner.masterKey) };
      const first = await createKey(app.http, owner.masterKey, 'capped');
      const rolled = await app.http.post(`/1.0/keys/${first.id}/roll`).set(master).send({});
      expect(rolled.status).toBe(200);
      const refused = await app.http
        .post(`/1.0/keys/${rolled.body.id}/roll`)
        .set(master)
        .send({})
        .expect(409);
      expect(messageOf(refused.body)).toContain('rolled keys count until they are deleted');
      await app.http.delete(`/1.0/keys/${first.id}`).set(master).expect(200);
      await app.http.post(`/1.0/keys/${rolled.body.id}/roll`).set(master).send({}).expect(200);
    });
  });
}
