import { describeEachDatabase } from './helpers/app';
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
