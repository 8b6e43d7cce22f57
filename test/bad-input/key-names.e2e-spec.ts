import { describeEachDatabase } from '../helpers/app';
import { badInputFixture, Call, expectRefused } from '../helpers/bad-input';

/** Section "Key names" of docs/bad-input.md (N01–N09): names the key routes refuse or keep. */
describeEachDatabase('bad input', (ctx) => {
  const given = badInputFixture(ctx);
  const { http, master, credentials, createKey } = given;

  /** Every route that takes a key name, with the rest of its body valid. */
  const nameRoutes = (name: unknown): Call[] => [
    { method: 'post', path: '/1.0/keys', headers: master(), body: { name } },
    { method: 'put', path: `/1.0/keys/${given.child.id}`, headers: master(), body: { name } },
    { method: 'patch', path: `/1.0/keys/${given.child.id}`, headers: master(), body: { name } },
    { method: 'post', path: '/api/v1/keys/generate', body: { ...credentials(), name } },
  ];

  describe('key names', () => {
    it('refuses a missing name with 400 where a name is required (N01)', async () => {
      await expectRefused(
        http(),
        [
          { method: 'post', path: '/1.0/keys', headers: master(), body: {} },
          { method: 'put', path: `/1.0/keys/${given.child.id}`, headers: master(), body: {} },
        ],
        400,
        /name must be a string/,
      );
    });

    it.each([
      ['empty', ''],
      ['blank', '   \u00a0 '],
      ['101 characters long', 'x'.repeat(101)],
      ['101 emoji long', '🔑'.repeat(101)],
      ['10,000 characters long', 'y'.repeat(10_000)],
    ])('refuses a name that is %s with 400 (N02)', async (_, name) => {
      await expectRefused(http(), nameRoutes(name), 400, /name must be 1 to 100 characters/);
    });

    it.each([
      ['a number', 42],
      ['a boolean', true],
      ['an array', ['a']],
      ['an object', { first: 'a' }],
    ])('refuses a name that is %s with 400 (N03)', async (_, name) => {
      await expectRefused(http(), nameRoutes(name), 400, /name must be a string/);
    });

    it('refuses a null name with 400 on every route, PATCH included (N04)', async () => {
      await expectRefused(http(), nameRoutes(null), 400, /name must be a string/);
    });

    it('refuses a null isActive with 400 (N05)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'patch',
            path: `/1.0/keys/${given.child.id}`,
            headers: master(),
            body: { isActive: null },
          },
          {
            method: 'patch',
            path: `/1.0/keys/${given.child.id}`,
            headers: master(),
            body: { isActive: 'no' },
          },
        ],
        400,
        /isActive must be true or false/,
      );
    });

    it('accepts unicode names and returns them unchanged (N06)', async () => {
      const names = [
        'clé 🔑 鍵 ١٢٣',
        'Ünïcødé ✓ 名前',
        '🔑'.repeat(100),
        'נשת \u202ertl',
        'e\u0301 ﬁ',
      ];
      for (const name of names) {
        const created = await http().post('/1.0/keys').set(master()).send({ name }).expect(200);
        expect(created.body.name).toBe(name);
      }
      const renamed = await http()
        .put(`/1.0/keys/${given.child.id}`)
        .set(master())
        .send({ name: '子 key ✨' })
        .expect(200);
      expect(renamed.body.name).toBe('子 key ✨');
      const generated = await http()
        .post('/api/v1/keys/generate')
        .send({ ...credentials(), name: 'ключ 🗝' })
        .expect(201);
      expect(generated.body.data.name).toBe('ключ 🗝');
      const listed = await http().get('/1.0/keys').set(master()).expect(200);
      const listedNames = (listed.body.keys as { name: string }[]).map((k) => k.name);
      expect(listedNames).toEqual(expect.arrayContaining(['子 key ✨', 'ключ 🗝']));
    });

    it.each([
      ['NUL', '\u0000'],
      ['a line feed', '\n'],
      ['a tab', '\t'],
      ['ESC', '\u001b'],
      ['DEL', '\u007f'],
      ['a C1 control', '\u009f'],
    ])('refuses a name with %s inside it with 400 (N07)', async (_, control) => {
      await expectRefused(
        http(),
        nameRoutes(`bad${control}name`),
        400,
        /name must not contain control characters/,
      );
    });

    it('refuses a name that is not valid Unicode (a lone surrogate) with 400 (N08)', async () => {
      const lone = '"half \\ud800 a pair"';
      await expectRefused(
        http(),
        [
          { method: 'post', path: '/1.0/keys', body: `{"name":${lone}}` },
          { method: 'put', path: `/1.0/keys/${given.child.id}`, body: `{"name":${lone}}` },
          {
            method: 'post',
            path: '/api/v1/keys/generate',
            body: `{"email":${JSON.stringify(given.owner.email)},"password":${JSON.stringify(given.owner.password)},"name":${lone}}`,
          },
        ].map((c) => ({
          ...(c as Call),
          headers: {
            'Content-Type': 'application/json',
            ...(c.path.startsWith('/1.0') ? master() : {}),
          },
        })),
        400,
        /name/,
      );
    });

    it('refuses a duplicate name, also when it differs only by surrounding blanks, with 409 (N09)', async () => {
      await createKey(given.owner, 'taken');
      await expectRefused(
        http(),
        [
          { method: 'post', path: '/1.0/keys', headers: master(), body: { name: 'taken' } },
          { method: 'post', path: '/1.0/keys', headers: master(), body: { name: '  taken ' } },
          {
            method: 'put',
            path: `/1.0/keys/${given.child.id}`,
            headers: master(),
            body: { name: 'taken' },
          },
          {
            method: 'post',
            path: '/api/v1/keys/generate',
            body: { ...credentials(), name: 'taken' },
          },
        ],
        409,
        /a key named "taken" already exists/,
      );
    });
  });
});
