import type TestAgent from 'supertest/lib/agent';
import { generateKey } from '../src/common/crypto/key-format';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { describeEachDatabase } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { expectEnvelope } from './helpers/envelope';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MINUTE_MS = 60_000;
const ME_FIELDS = [
  'id',
  'name',
  'isMaster',
  'isActive',
  'createdAt',
  'lastUsedAt',
  'usageCount',
  'volume',
  'volumeOut',
].sort();

interface MeKey {
  id: string;
  name: string;
  isMaster: boolean;
  isActive: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  usageCount: number;
  volume: number;
}

interface ListedKey extends MeKey {
  key: string;
}

interface UsagePoint {
  bucket: string;
  volume: number;
  count: number;
}

const NOT_FOUND = { success: true, valid: false, code: 'NOT_FOUND', keyId: null, name: null };

/** A key that is not the master key, made with the Optidash route; returns its plaintext. */
async function clientKey(http: TestAgent, owner: TestAccount, name: string): Promise<string> {
  const res = await http
    .post('/1.0/keys')
    .set('Authorization', basic(owner.masterKey))
    .send({ name })
    .expect(200);
  return res.body.key as string;
}

/** The account's keys as its master key lists them (that request is metered on the master). */
async function keysOf(http: TestAgent, owner: TestAccount): Promise<ListedKey[]> {
  const res = await http.get('/1.0/keys').set('x-api-key', owner.masterKey).expect(200);
  return res.body.keys as ListedKey[];
}

async function keyOf(http: TestAgent, owner: TestAccount, id: string): Promise<ListedKey> {
  const found = (await keysOf(http, owner)).find((k) => k.id === id);
  if (!found) throw new Error(`key ${id} is not listed`);
  return found;
}

async function me(http: TestAgent, key: string): Promise<MeKey> {
  const res = await http.get('/1.0/me').set('x-api-key', key).expect(200);
  return res.body.key as MeKey;
}

/** A JSON body and its exact size in bytes (with characters that take more than one byte). */
function body(text: string): { json: string; bytes: number } {
  const json = JSON.stringify({ note: text });
  return { json, bytes: Buffer.byteLength(json, 'utf8') };
}

const verify = (http: TestAgent, owner: TestAccount, payload: unknown) =>
  http
    .post('/1.0/verify')
    .set('Authorization', basic(owner.masterKey))
    .send(payload as object);

describeEachDatabase('key holders (/1.0/me) and key verification (/1.0/verify)', (ctx) => {
  it('shows a key holder its own key, with any of the three headers, counting each request', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const key = await clientKey(http, owner, 'client app');
    const headers: Record<string, string>[] = [
      { Authorization: basic(key) },
      { Authorization: `Bearer ${key}` },
      { 'x-api-key': key },
    ];
    let previousUse = 0;
    // Each answer's body bytes count as the key's volumeOut once it is sent.
    let answered = 0;
    for (const [i, header] of headers.entries()) {
      const start = Date.now();
      const res = await http.get('/1.0/me').set(header).expect(200);
      const end = Date.now();
      expect(res.body).toEqual({
        success: true,
        key: {
          id: expect.any(String),
          name: 'client app',
          isMaster: false,
          isActive: true,
          createdAt: expect.stringMatching(ISO),
          lastUsedAt: expect.stringMatching(ISO),
          usageCount: i + 1,
          volume: 0,
          volumeOut: answered,
        },
      });
      answered += Buffer.byteLength(res.text);
      expect(Object.keys(res.body.key).sort()).toEqual(ME_FIELDS);
      expect(res.text).not.toContain(key);
      expect(res.text).not.toContain(key.slice(3));
      const lastUse = Date.parse(res.body.key.lastUsedAt);
      expect(lastUse).toBeGreaterThanOrEqual(Math.max(start, previousUse));
      expect(lastUse).toBeLessThanOrEqual(end);
      previousUse = lastUse;
    }
    const listed = await keysOf(http, owner);
    const client = listed.find((k) => k.name === 'client app')!;
    expect(client.usageCount).toBe(3);
  });

  it('counts the bytes of each request body as the volume of the key that sent it', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const key = await clientKey(http, owner, 'uploader');
    const first = body('héllo wörld');
    const second = body('€'.repeat(50));
    expect(first.bytes).toBeGreaterThan(first.json.length);

    const afterFirst = await http
      .get('/1.0/me')
      .set('x-api-key', key)
      .set('Content-Type', 'application/json')
      .send(first.json)
      .expect(200);
    expect(afterFirst.body.key).toMatchObject({ usageCount: 1, volume: first.bytes });
    const afterSecond = await http
      .get('/1.0/me')
      .set('Authorization', `Bearer ${key}`)
      .set('Content-Type', 'application/json')
      .send(second.json)
      .expect(200);
    expect(afterSecond.body.key).toMatchObject({
      usageCount: 2,
      volume: first.bytes + second.bytes,
    });
    expect((await me(http, key)).volume).toBe(first.bytes + second.bytes);
  });

  it("shows a key holder its own per-minute usage with each request's body bytes", async () => {
    const { http, app } = ctx();
    const owner = await account(http);
    const key = await clientKey(http, owner, 'reporter');
    const bystander = await clientKey(http, owner, 'bystander');
    const bodies = [body('α'), body('βγ'.repeat(20)), body('plain ascii text')];
    const from = new Date(Date.now() - 5 * MINUTE_MS);

    const start = Date.now();
    for (const b of bodies) {
      await http
        .get('/1.0/me')
        .set('x-api-key', key)
        .set('Content-Type', 'application/json')
        .send(b.json)
        .expect(200);
    }
    await http.get('/1.0/me').set('x-api-key', key).expect(200);
    await http
      .get('/1.0/me')
      .set('x-api-key', bystander)
      .set('Content-Type', 'application/json')
      .send(body('not mine').json)
      .expect(200);

    const query = `/1.0/me/usage?interval=minute&from=${encodeURIComponent(from.toISOString())}`;
    const res = await http.get(query).set('x-api-key', key).expect(200);
    const end = Date.now();
    expect(res.body.success).toBe(true);
    const results = res.body.results as UsagePoint[];
    const starts = results.map((p) => Date.parse(p.bucket));
    for (const p of results) expect(p.bucket).toMatch(ISO);
    expect(starts[0]).toBe(Math.floor(from.getTime() / MINUTE_MS) * MINUTE_MS);
    expect(starts.at(-1)).toBeGreaterThanOrEqual(Math.floor(start / MINUTE_MS) * MINUTE_MS);
    expect(starts.at(-1)).toBeLessThanOrEqual(Math.floor(end / MINUTE_MS) * MINUTE_MS);
    starts.slice(1).forEach((s, i) => expect(s - starts[i]).toBe(MINUTE_MS));

    // Four requests with the key, and this usage request itself (no body).
    const expectedVolume = bodies.reduce((sum, b) => sum + b.bytes, 0);
    const total = (points: UsagePoint[]) =>
      points.reduce((sum, p) => ({ count: sum.count + p.count, volume: sum.volume + p.volume }), {
        count: 0,
        volume: 0,
      });
    expect(total(results)).toEqual({ count: 5, volume: expectedVolume });
    for (const [i, p] of results.entries()) {
      if (p.count === 0) expect(p.volume).toBe(0);
      else expect(starts[i]).toBeGreaterThanOrEqual(Math.floor(start / MINUTE_MS) * MINUTE_MS);
    }

    await app.get(UsageMeter).flush();
    const again = await http.get(query).set('x-api-key', key).expect(200);
    expect(total(again.body.results as UsagePoint[])).toEqual({
      count: 6,
      volume: expectedVolume,
    });
    expect(await me(http, key)).toMatchObject({ usageCount: 7, volume: expectedVolume });
  });

  it('verifies a key for the master key and records exactly one use of it with the given volume', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const key = await clientKey(http, owner, 'verified');
    const id = (await me(http, key)).id;
    const before = await keyOf(http, owner, id);
    expect(before).toMatchObject({ usageCount: 1, volume: 0 });

    const payload = { key, volume: 4096 };
    const res = await verify(http, owner, payload).expect(200);
    expect(res.body).toEqual({
      success: true,
      valid: true,
      code: 'VALID',
      keyId: id,
      name: 'verified',
    });
    const after = await keyOf(http, owner, id);
    expect(after).toMatchObject({ usageCount: 2, volume: 4096 });
    expect(Date.parse(after.lastUsedAt!)).toBeGreaterThanOrEqual(Date.parse(before.lastUsedAt!));

    await verify(http, owner, { key }).expect(200);
    expect(await keyOf(http, owner, id)).toMatchObject({ usageCount: 3, volume: 4096 });
  });

  it("meters the master key's verify requests with their body bytes, apart from the verified key", async () => {
    const { http } = ctx();
    const owner = await account(http);
    const key = await clientKey(http, owner, 'verified twice');
    const masterBefore = await keyOf(http, owner, owner.masterKeyId);
    const payload = JSON.stringify({ key, volume: 10 });
    await http
      .post('/1.0/verify')
      .set('x-api-key', owner.masterKey)
      .set('Content-Type', 'application/json')
      .send(payload)
      .expect(200);
    const masterAfter = await keyOf(http, owner, owner.masterKeyId);
    // The verify request and the second listing.
    expect(masterAfter.usageCount).toBe(masterBefore.usageCount + 2);
    expect(masterAfter.volume).toBe(masterBefore.volume + Buffer.byteLength(payload));
  });

  it('answers DISABLED for a deactivated key, without counting it, and refuses it on /1.0/me', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const key = await clientKey(http, owner, 'switched off');
    const id = (await me(http, key)).id;
    await http
      .patch(`/1.0/keys/${id}`)
      .set('Authorization', basic(owner.masterKey))
      .send({ isActive: false })
      .expect(200);

    const res = await verify(http, owner, { key, volume: 100 }).expect(200);
    expect(res.body).toEqual({
      success: true,
      valid: false,
      code: 'DISABLED',
      keyId: id,
      name: 'switched off',
    });
    for (const header of [{ 'x-api-key': key }, { Authorization: basic(key) }]) {
      const refused = await http.get('/1.0/me').set(header).expect(401);
      expectEnvelope(refused.body, 401);
      expect(refused.text).not.toContain(key);
    }
    expect(await keyOf(http, owner, id)).toMatchObject({
      isActive: false,
      usageCount: 1,
      volume: 0,
    });

    await http
      .patch(`/1.0/keys/${id}`)
      .set('Authorization', basic(owner.masterKey))
      .send({ isActive: true })
      .expect(200);
    expect((await me(http, key)).usageCount).toBe(2);
  });

  it("answers NOT_FOUND for an unknown, a malformed or another account's key, and counts nothing", async () => {
    const { http } = ctx();
    const owner = await account(http);
    const stranger = await account(http);
    const theirs = await clientKey(http, stranger, 'theirs');
    const theirsId = (await me(http, theirs)).id;
    const flipped = theirs.slice(0, -1) + (theirs.endsWith('A') ? 'B' : 'A');
    const candidates = [
      generateKey('km_'),
      'km_short',
      'not a key at all',
      '',
      flipped,
      theirs,
      stranger.masterKey,
    ];
    for (const candidate of candidates) {
      const res = await verify(http, owner, { key: candidate, volume: 7 }).expect(200);
      expect(res.body).toEqual(NOT_FOUND);
    }
    expect(await keyOf(http, stranger, theirsId)).toMatchObject({ usageCount: 1, volume: 0 });
  });

  it('refuses a volume that is negative, not a whole number or a string, and a missing key, with 400', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const key = await clientKey(http, owner, 'strict');
    const cases: [unknown, RegExp][] = [
      [{ key, volume: -1 }, /volume must not be negative/],
      [{ key, volume: 1.5 }, /volume must be a whole number/],
      [{ key, volume: '10' }, /volume must be a whole number/],
      [{ volume: 1 }, /key must be a string/],
      [{ key: 42 }, /key must be a string/],
      [{ key, extra: true }, /property extra should not exist/],
    ];
    for (const [payload, message] of cases) {
      const res = await verify(http, owner, payload).expect(400);
      expectEnvelope(res.body, 400);
      expect(JSON.stringify(res.body.message)).toMatch(message);
      expect(res.text).not.toContain(key);
    }
    expect((await me(http, key)).usageCount).toBe(1);
  });

  it('lets only the master key verify keys: another key gets 403 and no key gets 401', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const key = await clientKey(http, owner, 'not the master');
    for (const header of [{ 'x-api-key': key }, { Authorization: `Bearer ${key}` }]) {
      const res = await http.post('/1.0/verify').set(header).send({ key }).expect(403);
      expectEnvelope(res.body, 403);
    }
    const anonymous = await http.post('/1.0/verify').send({ key }).expect(401);
    expectEnvelope(anonymous.body, 401);
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="keymeter"');
  });

  it('shows the master key its own details on /1.0/me as well', async () => {
    const { http } = ctx();
    const owner = await account(http);
    const res = await http.get('/1.0/me').set('Authorization', basic(owner.masterKey)).expect(200);
    expect(res.body.key).toMatchObject({ id: owner.masterKeyId, isMaster: true, usageCount: 1 });
    expect(res.text).not.toContain(owner.masterKey);
  });
});
