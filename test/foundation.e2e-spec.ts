import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { KeysService } from '../src/keys/keys.service';
import { PrismaService } from '../src/prisma/prisma.service';
import { describeEachDatabase } from './helpers/app';
import { expectEnvelope } from './helpers/envelope';
import { account, basic, masterActor } from './helpers/factory';

const KEY_SHAPE = /^km_[0-9A-Za-z]{46}$/;

describeEachDatabase('accounts, the guard and the error envelope', (ctx) => {
  it('registers an account and returns its master key, which lists the account keys', async () => {
    const { http } = ctx();
    const owner = await account(http);
    expect(owner.masterKey).toMatch(KEY_SHAPE);

    for (const auth of [
      { Authorization: basic(owner.masterKey) },
      { Authorization: `Bearer ${owner.masterKey}` },
      { 'x-api-key': owner.masterKey },
    ]) {
      const res = await http.get('/1.0/keys').set(auth).expect(200);
      expect(res.body.success).toBe(true);
      expect(res.body.keys).toHaveLength(1);
      expect(res.body.keys[0]).toMatchObject({
        id: owner.masterKeyId,
        name: 'master',
        key: owner.masterKey,
        isMaster: true,
        isActive: true,
      });
    }
  });

  it('normalises emails and refuses a taken one with 409', async () => {
    const { http } = ctx();
    const email = `Mixed.Case-${Date.now()}@Example.COM`;
    const first = await http
      .post('/api/v1/auth/register')
      .send({ email: `  ${email} `, password: 'long enough password' })
      .expect(201);
    expect(first.body.data.account.email).toBe(email.toLowerCase());
    const again = await http
      .post('/api/v1/auth/register')
      .send({ email: email.toUpperCase(), password: 'another password' })
      .expect(409);
    expectEnvelope(again.body, 409);
  });

  it('refuses a bad email, a short password and unknown fields with 400 and says why', async () => {
    const { http } = ctx();
    const res = await http
      .post('/api/v1/auth/register')
      .send({ email: 'not-an-email', password: 'short', admin: true })
      .expect(400);
    expectEnvelope(res.body, 400);
    const messages = (res.body.message as string[]).join(' | ');
    expect(messages).toMatch(/email must be a valid email address/);
    expect(messages).toMatch(/password must be longer than or equal to 8 characters/);
    expect(messages).toMatch(/property admin should not exist/);
  });

  it('answers 401 with a Basic challenge when no key, a malformed key or a bad checksum is sent', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const flipped = owner.masterKey.slice(0, -1) + (owner.masterKey.endsWith('A') ? 'B' : 'A');
    const cases: Record<string, string>[] = [
      {},
      { 'x-api-key': 'km_short' },
      { 'x-api-key': flipped },
      { Authorization: 'Basic !!!' },
      { Authorization: 'Digest abc' },
      { Authorization: basic('') },
    ];
    for (const headers of cases) {
      const res = await http.get('/1.0/keys').set(headers).expect(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="keymeter"');
      expectEnvelope(res.body, 401);
      expect(JSON.stringify(res.body)).not.toContain(owner.masterKey);
    }
  });

  it('answers a repeated refusal identically, with the challenge of each request', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const flipped = owner.masterKey.slice(0, -1) + (owner.masterKey.endsWith('A') ? 'B' : 'A');
    for (const scripted of [false, true, false, true]) {
      const req = http.get('/1.0/keys').set('x-api-key', flipped);
      const res = await (scripted ? req.set('X-Requested-With', 'XMLHttpRequest') : req).expect(
        401,
      );
      expect(res.headers['www-authenticate']).toBe(
        scripted ? 'Session realm="keymeter"' : 'Basic realm="keymeter"',
      );
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.body).toEqual({
        success: false,
        statusCode: 401,
        error: 'Unauthorized',
        message: 'the API key is malformed or its checksum is wrong',
      });
    }
  });

  it('sends a refusal with its exact length, and without a body to HEAD', async () => {
    const { http } = ctx();
    const get = await http.get('/1.0/keys').set('x-api-key', 'km_not-a-key').expect(401);
    expect(Number(get.headers['content-length'])).toBe(Buffer.byteLength(get.text));
    expect(JSON.parse(get.text)).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    const head = await http.head('/1.0/keys').set('x-api-key', 'km_not-a-key').expect(401);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.text ?? '').toBe('');
  });

  it('answers 403 to a valid key that is not the master key on a master route', async () => {
    const { http, app } = ctx();
    const owner = await account(http);
    const { key } = await app.get(KeysService).create(masterActor(owner), 'client app');
    const res = await http.get('/1.0/keys').set('x-api-key', key).expect(403);
    expectEnvelope(res.body, 403);
  });

  it('answers unknown routes, malformed JSON and oversized bodies with the envelope', async () => {
    const { http } = ctx();
    expectEnvelope((await http.get('/no/such/route').expect(404)).body, 404);
    const bad = await http
      .post('/api/v1/auth/register')
      .set('Content-Type', 'application/json')
      .send('{"email": ')
      .expect(400);
    expectEnvelope(bad.body, 400);
    expect(bad.body.message).toBe('the request body is not valid JSON');
    const big = await http
      .post('/api/v1/auth/register')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(2 * 1024 * 1024) }))
      .expect(413);
    expectEnvelope(big.body, 413);
    expect(JSON.stringify(big.body)).not.toMatch(/at .*\.js/);
  });

  it('serves health, metrics labelled by route pattern, Swagger UI and the OpenAPI document', async () => {
    const { http, provider } = ctx();
    const health = await http.get('/health').expect(200);
    expect(health.body.info.database).toEqual({ status: 'up', provider });
    await http.get('/docs').expect(200).expect('Content-Type', /html/);
    const doc = await http.get('/docs-json').expect(200);
    expect(doc.body.paths['/1.0/keys'].get.security).toEqual(
      expect.arrayContaining([{ basic: [] }, { bearer: [] }, { 'x-api-key': [] }]),
    );
    expect(doc.body.components.schemas.RegisterDto.properties).toHaveProperty('email');
    const metrics = await http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(
      /keymeter_http_requests_total\{method="GET",route="\/health",status="200"\}/,
    );
  });

  it('keeps no key in plaintext in the database', async () => {
    const { http, app, provider, dataDir } = ctx();
    const owner = await account(http);
    const secretPart = owner.masterKey.slice(3);
    const rows = await app.get(PrismaService).db.$queryRawUnsafe('SELECT * FROM api_keys');
    const dump = JSON.stringify(rows, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    expect(dump).toContain(owner.masterKeyId);
    expect(dump).not.toContain(secretPart);
    if (provider === 'sqlite') {
      const files = ['keymeter.db', 'keymeter.db-wal'].map((f) => path.join(dataDir, f));
      const bytes = files.filter(existsSync).map((f) => readFileSync(f).toString('latin1'));
      expect(bytes.join('')).toContain(owner.masterKeyId);
      expect(bytes.join('')).not.toContain(secretPart);
    }
  });
});
