import { describeEachDatabase } from '../helpers/app';
import { account } from '../helpers/factory';
import {
  auth,
  call,
  createKey,
  expectEnvelope,
  injectUsage,
  KEY_SHAPE,
  keyRoutes,
  messageOf,
} from '../helpers/optidash-fixtures';

/** Creating, renaming, listing, (de)activating and deleting keys on `/1.0/keys`. */
describeEachDatabase('the Optidash-compatible API', (ctx) => {
  describe('POST /1.0/keys', () => {
    it('creates a key as in the document and answers 200 with exactly success, name and key', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .post('/1.0/keys')
        .set(auth(owner.masterKey))
        .set('Content-Type', 'application/json')
        .send('{\n"name": "my awesome key"\n}')
        .expect(200);
      expect(res.body).toEqual({
        success: true,
        name: 'my awesome key',
        key: expect.stringMatching(KEY_SHAPE),
      });
      expect(Object.keys(res.body)).toEqual(['success', 'name', 'key']);
      expect(res.body.key).not.toBe(owner.masterKey);

      const me = await http.get('/1.0/me').set(auth(res.body.key)).expect(200);
      expect(me.body.key).toMatchObject({ name: 'my awesome key', isMaster: false });
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys.map((k: { name: string }) => k.name)).toEqual([
        'master',
        'my awesome key',
      ]);
    });

    it('refuses a second key with the same name with 409, also when it differs only by surrounding spaces', async () => {
      const { http } = ctx();
      const owner = await account(http);
      await createKey(http, owner.masterKey, 'my awesome key');
      for (const name of ['my awesome key', '  my awesome key\t', 'master']) {
        const res = await http
          .post('/1.0/keys')
          .set(auth(owner.masterKey))
          .send({ name })
          .expect(409);
        expectEnvelope(res.body, 409);
        expect(messageOf(res.body)).toMatch(/already exists/);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys).toHaveLength(2);
    });

    it('lets two accounts use the same key name', async () => {
      const { http } = ctx();
      const first = await account(http);
      const second = await account(http);
      await createKey(http, first.masterKey, 'shared name');
      await createKey(http, second.masterKey, 'shared name');
    });

    it('trims names and accepts names of 1 and of 100 characters', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const cases: [string, string][] = [
        ['  padded name \t', 'padded name'],
        ['x', 'x'],
        ['n'.repeat(100), 'n'.repeat(100)],
        [`   ${'m'.repeat(100)}   `, 'm'.repeat(100)],
        ['Ünïcödé name 🔑', 'Ünïcödé name 🔑'],
      ];
      for (const [sent, stored] of cases) {
        const res = await http
          .post('/1.0/keys')
          .set(auth(owner.masterKey))
          .send({ name: sent })
          .expect(200);
        expect(res.body.name).toBe(stored);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys.map((k: { name: string }) => k.name)).toEqual([
        'master',
        ...cases.map(([, stored]) => stored),
      ]);
    });

    it('refuses control characters, non-strings, empty names, 101 characters and unknown fields with 400 and says what to fix', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const cases: [unknown, RegExp][] = [
        [{ name: 'line\nbreak' }, /name must not contain control characters/],
        [{ name: 'bell\u0007' + 'x' }, /name must not contain control characters/],
        [{ name: 'nul\u0000byte' }, /name must not contain control characters/],
        [{ name: 'del\u007fchar' }, /name must not contain control characters/],
        [{ name: 42 }, /name must be a string/],
        [{ name: true }, /name must be a string/],
        [{ name: null }, /name must be a string/],
        [{ name: ['a'] }, /name must be a string/],
        [{ name: { first: 'a' } }, /name must be a string/],
        [{}, /name must be a string/],
        [{ name: '' }, /name must be 1 to 100 characters long/],
        [{ name: '    ' }, /name must be 1 to 100 characters long/],
        [{ name: 'n'.repeat(101) }, /name must be 1 to 100 characters long/],
        [{ name: 'ok', isMaster: true }, /property isMaster should not exist/],
        [{ name: 'ok', key: 'km_mine' }, /property key should not exist/],
        [['my awesome key'], /./],
      ];
      for (const [body, message] of cases) {
        const res = await http
          .post('/1.0/keys')
          .set(auth(owner.masterKey))
          .send(body as object);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(message);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys).toHaveLength(1);
    });

    it('refuses a body that is not JSON with 400', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .post('/1.0/keys')
        .set(auth(owner.masterKey))
        .set('Content-Type', 'application/json')
        .send('{"name": "my awesome key"')
        .expect(400);
      expectEnvelope(res.body, 400);
      expect(res.body.message).toBe('the request body is not valid JSON');
    });
  });

  describe('PUT /1.0/keys/:key', () => {
    it('renames a key as in the document and answers with exactly success, the new name and the key from the path', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const created = await createKey(http, owner.masterKey, 'my awesome key');
      const res = await http
        .put(`/1.0/keys/${created.key}`)
        .set(auth(owner.masterKey))
        .set('Content-Type', 'application/json')
        .send('{\n"name":"better name"\n}')
        .expect(200);
      expect(res.body).toEqual({ success: true, name: 'better name', key: created.key });
      expect(Object.keys(res.body)).toEqual(['success', 'name', 'key']);

      const me = await http.get('/1.0/me').set(auth(created.key)).expect(200);
      expect(me.body.key.name).toBe('better name');
    });

    it('renames a key addressed by its id and answers with the stored key', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const created = await createKey(http, owner.masterKey, 'by id');
      const res = await http
        .put(`/1.0/keys/${created.id}`)
        .set(auth(owner.masterKey))
        .send({ name: '  renamed by id  ' })
        .expect(200);
      expect(res.body).toEqual({ success: true, name: 'renamed by id', key: created.key });
      expect(Object.keys(res.body)).toEqual(['success', 'name', 'key']);

      const upper = await http
        .put(`/1.0/keys/${created.id.toUpperCase()}`)
        .set(auth(owner.masterKey))
        .send({ name: 'renamed again' })
        .expect(200);
      expect(upper.body).toEqual({ success: true, name: 'renamed again', key: created.key });
    });

    it('renames the master key and answers with the master key', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const res = await http
        .put(`/1.0/keys/${owner.masterKeyId}`)
        .set(auth(owner.masterKey))
        .send({ name: 'primary' })
        .expect(200);
      expect(res.body).toEqual({ success: true, name: 'primary', key: owner.masterKey });
      await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
    });

    it("refuses a name another key has with 409 and accepts the key's own name", async () => {
      const { http } = ctx();
      const owner = await account(http);
      const first = await createKey(http, owner.masterKey, 'first');
      await createKey(http, owner.masterKey, 'second');
      for (const name of ['second', ' second ', 'master']) {
        const res = await http
          .put(`/1.0/keys/${first.key}`)
          .set(auth(owner.masterKey))
          .send({ name })
          .expect(409);
        expectEnvelope(res.body, 409);
        expect(messageOf(res.body)).toMatch(/already exists/);
      }
      const same = await http
        .put(`/1.0/keys/${first.key}`)
        .set(auth(owner.masterKey))
        .send({ name: 'first' })
        .expect(200);
      expect(same.body).toEqual({ success: true, name: 'first', key: first.key });
    });

    it('validates the new name as POST does', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const created = await createKey(http, owner.masterKey, 'valid');
      const cases: [unknown, RegExp][] = [
        [{}, /name must be a string/],
        [{ name: 7 }, /name must be a string/],
        [{ name: ' ' }, /name must be 1 to 100 characters long/],
        [{ name: 'x'.repeat(101) }, /name must be 1 to 100 characters long/],
        [{ name: 'tab\tinside' }, /name must not contain control characters/],
        [{ name: 'ok', isActive: false }, /property isActive should not exist/],
      ];
      for (const [body, message] of cases) {
        const res = await http
          .put(`/1.0/keys/${created.key}`)
          .set(auth(owner.masterKey))
          .send(body as object);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(message);
      }
      const me = await http.get('/1.0/me').set(auth(created.key)).expect(200);
      expect(me.body.key).toMatchObject({ name: 'valid', isActive: true });
    });
  });

  describe('GET, PATCH and DELETE beyond the document', () => {
    it("lists the account's keys in creation order with their usage totals", async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const body = { name: 'listed' };
      const created = await http
        .post('/1.0/keys')
        .set(auth(owner.masterKey))
        .send(body)
        .expect(200);
      const listed = (await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200)).body
        .keys as { id: string }[];
      await injectUsage(app, listed[1].id, [
        ['2021-05-01T10:00:00Z', 10],
        ['2021-05-02T10:00:00Z', 20],
        ['2021-05-01T09:00:00Z', 30],
      ]);

      const res = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(Object.keys(res.body)).toEqual(['success', 'keys']);
      expect(res.body.success).toBe(true);
      expect(res.body.keys).toEqual([
        {
          id: owner.masterKeyId,
          name: 'master',
          key: owner.masterKey,
          isMaster: true,
          isActive: true,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          lastUsedAt: expect.any(String),
          usageCount: 3,
          volume: Buffer.byteLength(JSON.stringify(body)),
          // The bodies of the master key's answers so far (its two earlier requests).
          volumeOut: expect.any(Number),
        },
        {
          id: listed[1].id,
          name: 'listed',
          key: created.body.key,
          isMaster: false,
          isActive: true,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          lastUsedAt: '2021-05-02T10:00:00.000Z',
          usageCount: 3,
          volume: 60,
          volumeOut: 0,
        },
      ]);
      expect(res.body.keys[0].volumeOut).toBeGreaterThan(0);
    });

    it('deactivates a key so that its very next request is 401, and activates it again', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'toggled');
      await http.get('/1.0/me').set(auth(key.key)).expect(200);

      const off = await http
        .patch(`/1.0/keys/${key.key}`)
        .set(auth(owner.masterKey))
        .send({ isActive: false })
        .expect(200);
      expect(off.body).toEqual({
        success: true,
        apiKey: expect.objectContaining({ id: key.id, name: 'toggled', isActive: false }),
      });
      for (const headers of [
        auth(key.key),
        { Authorization: `Bearer ${key.key}` },
        { 'x-api-key': key.key },
      ]) {
        const res = await http.get('/1.0/me').set(headers).expect(401);
        expectEnvelope(res.body, 401);
        expect(res.headers['www-authenticate']).toBe('Basic realm="keymeter"');
      }
      const usage = await http.get(`/1.0/keys/${key.key}`).set(auth(owner.masterKey)).expect(200);
      expect(usage.body.results).toHaveLength(91);

      const on = await http
        .patch(`/1.0/keys/${key.id}`)
        .set(auth(owner.masterKey))
        .send({ isActive: true })
        .expect(200);
      expect(on.body.apiKey).toMatchObject({ id: key.id, isActive: true, key: key.key });
      await http.get('/1.0/me').set(auth(key.key)).expect(200);
    });

    it('renames with PATCH and refuses bad fields with 400 and a taken name with 409', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'patchable');
      const renamed = await http
        .patch(`/1.0/keys/${key.key}`)
        .set(auth(owner.masterKey))
        .send({ name: ' patched ' })
        .expect(200);
      expect(renamed.body.apiKey).toMatchObject({ name: 'patched', isActive: true });

      const cases: [unknown, RegExp][] = [
        [{ isActive: 'no' }, /isActive must be true or false/],
        [{ isActive: 0 }, /isActive must be true or false/],
        [{ name: 12 }, /name must be a string/],
        [{ name: '' }, /name must be 1 to 100 characters long/],
        [{ isMaster: true }, /property isMaster should not exist/],
      ];
      for (const [body, message] of cases) {
        const res = await http
          .patch(`/1.0/keys/${key.key}`)
          .set(auth(owner.masterKey))
          .send(body as object);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(message);
      }
      const taken = await http
        .patch(`/1.0/keys/${key.key}`)
        .set(auth(owner.masterKey))
        .send({ name: 'master' })
        .expect(409);
      expectEnvelope(taken.body, 409);
    });

    it('refuses to deactivate the master key with 400, by key and by id', async () => {
      const { http } = ctx();
      const owner = await account(http);
      for (const ref of [owner.masterKey, owner.masterKeyId]) {
        const res = await http
          .patch(`/1.0/keys/${ref}`)
          .set(auth(owner.masterKey))
          .send({ isActive: false })
          .expect(400);
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(/master key cannot be deactivated/);
        expect(JSON.stringify(res.body)).not.toContain(owner.masterKey);
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys[0]).toMatchObject({ isMaster: true, isActive: true });
    });

    it('deletes a key: afterwards every route answers 404 for it, by key and by id, and it authenticates nothing', async () => {
      const { http } = ctx();
      const owner = await account(http);
      const byKey = await createKey(http, owner.masterKey, 'doomed');
      const byId = await createKey(http, owner.masterKey, 'doomed too');
      await http.get('/1.0/me').set(auth(byKey.key)).expect(200);
      await http.get('/1.0/me').set(auth(byId.key)).expect(200);

      for (const [ref, key] of [
        [byKey.key, byKey],
        [byId.id, byId],
      ] as const) {
        const gone = await http.delete(`/1.0/keys/${ref}`).set(auth(owner.masterKey)).expect(200);
        expect(gone.body).toEqual({ success: true });

        const used = await http.get('/1.0/me').set(auth(key.key)).expect(401);
        expectEnvelope(used.body, 401);
        expect(used.headers['www-authenticate']).toBe('Basic realm="keymeter"');

        for (const after of [key.key, key.id]) {
          for (const [method, path, body] of keyRoutes(after)) {
            const res = await call(http, method, path, auth(owner.masterKey), body);
            expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
            expectEnvelope(res.body, 404);
            expect(res.body.message).toBe('no such API key');
          }
        }
      }
      const list = await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
      expect(list.body.keys.map((k: { name: string }) => k.name)).toEqual(['master']);
      await createKey(http, owner.masterKey, 'doomed');
    });

    it('refuses to delete the master key with 400, by key and by id', async () => {
      const { http } = ctx();
      const owner = await account(http);
      for (const ref of [owner.masterKey, owner.masterKeyId]) {
        const res = await http.delete(`/1.0/keys/${ref}`).set(auth(owner.masterKey)).expect(400);
        expectEnvelope(res.body, 400);
        expect(messageOf(res.body)).toMatch(/master key cannot be deleted/);
      }
      await http.get('/1.0/keys').set(auth(owner.masterKey)).expect(200);
    });
  });
});
