import { PrismaService } from '../src/prisma/prisma.service';
import { describeEachDatabase } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { createKey, expectEnvelope, messageOf } from './helpers/optidash-fixtures';

interface Entry {
  id: number;
  at: string;
  action: string;
  actor: { type: string; id: string | null };
  target: { keyId: string; keyName: string } | null;
  changes: Record<string, { before: unknown; after: unknown }> | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

describeEachDatabase('audit log', (ctx) => {
  let owner: TestAccount;
  const master = () => ({ Authorization: basic(owner.masterKey) });

  async function log(query = ''): Promise<Entry[]> {
    const res = await ctx().http.get(`/1.0/audit${query}`).set(master()).expect(200);
    return res.body.entries as Entry[];
  }

  beforeAll(async () => {
    owner = await account(ctx().http);
  });

  it('records sign-up first, as the account and its master key', async () => {
    const entries = await log();
    const signUp = entries[entries.length - 1];
    expect(signUp).toMatchObject({
      action: 'account.registered',
      actor: { type: 'anonymous', id: null },
      target: { keyId: owner.masterKeyId, keyName: 'master' },
      ip: expect.stringMatching(/127\.0\.0\.1/),
    });
  });

  it('records every key change with who, what before and after, from where, and the request id', async () => {
    const http = ctx().http;
    const ua = { 'User-Agent': 'audit-test/1.0' };
    const created = await http
      .post('/1.0/keys')
      .set({ ...master(), ...ua, 'x-request-id': 'create-1' })
      .send({ name: 'audited' })
      .expect(200);
    const key = created.body.key as string;
    const list = await http.get('/1.0/keys').set(master()).expect(200);
    const id = (list.body.keys as { id: string; name: string }[]).find(
      (k) => k.name === 'audited',
    )!.id;
    const expiry = new Date(Date.now() + 86_400_000).toISOString();
    const steps: [string, () => Promise<unknown>, Partial<Entry>][] = [
      [
        'key.renamed',
        () => http.put(`/1.0/keys/${key}`).set(master()).send({ name: 'renamed' }).expect(200),
        { changes: { name: { before: 'audited', after: 'renamed' } } },
      ],
      [
        'key.deactivated',
        () => http.patch(`/1.0/keys/${id}`).set(master()).send({ isActive: false }).expect(200),
        { changes: { isActive: { before: true, after: false } } },
      ],
      [
        'key.activated',
        () => http.patch(`/1.0/keys/${id}`).set(master()).send({ isActive: true }).expect(200),
        { changes: { isActive: { before: false, after: true } } },
      ],
      [
        'key.expiry_changed',
        () => http.patch(`/1.0/keys/${id}`).set(master()).send({ expiresAt: expiry }).expect(200),
        { changes: { expiresAt: { before: null, after: expiry } } },
      ],
      [
        'key.deleted',
        () => http.delete(`/1.0/keys/${id}`).set(master()).expect(200),
        { changes: null },
      ],
    ];
    for (const [action, run, expected] of steps) {
      await run();
      const [newest] = await log();
      expect(newest).toMatchObject({
        action,
        actor: { type: 'master_key', id: owner.masterKeyId },
        target: { keyId: id },
        ...expected,
      });
    }
    // The deleted key's history stays, newest first, from its creation on.
    const history = await log(`?keyId=${id}`);
    expect(history.map((e) => e.action)).toEqual([
      'key.deleted',
      'key.expiry_changed',
      'key.activated',
      'key.deactivated',
      'key.renamed',
      'key.created',
    ]);
    expect(history[5]).toMatchObject({
      target: { keyId: id, keyName: 'audited' },
      userAgent: 'audit-test/1.0',
      requestId: 'create-1',
    });
    // The listing above showed the keys in full (KEY_STORAGE=encrypted): that is recorded too.
    expect((await log('?action=keys.revealed')).length).toBeGreaterThan(0);
  });

  it('records Radar key creation as the password actor', async () => {
    await ctx()
      .http.post('/api/v1/keys/generate')
      .send({ email: owner.email, password: owner.password, name: 'from-radar' })
      .expect(201);
    const [created] = await log('?action=key.created');
    expect(created).toMatchObject({
      actor: { type: 'password', id: null },
      target: { keyName: 'from-radar' },
    });
  });

  it('records sign-in, sign-out and failed sign-ins (throttled ones once)', async () => {
    const http = ctx().http;
    const signedIn = await http
      .post('/api/v1/auth/session')
      .send({ email: owner.email, password: owner.password })
      .expect(200);
    const cookie = (signedIn.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
    await http
      .delete('/api/v1/auth/session')
      .set('Cookie', cookie)
      .set('x-csrf-token', signedIn.body.data.csrfToken as string)
      .expect(200);
    const wrong = { email: owner.email, password: 'not-the-password' };
    for (let i = 0; i < 12; i++) await http.post('/api/v1/auth/session').send(wrong);
    const actions = (await log('?limit=20')).map((e) => e.action);
    expect(actions.filter((a) => a === 'sign_in.failed')).toHaveLength(10);
    expect(actions.filter((a) => a === 'sign_in.throttled')).toHaveLength(1);
    const [signOut] = await log('?action=session.signed_out');
    expect(signOut.actor.type).toBe('session');
    const [signIn] = await log('?action=session.signed_in');
    expect(signIn.actor.type).toBe('password');
  });

  it('pages newest first with limit and cursor, each entry once', async () => {
    const all = await log('?limit=1000');
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await ctx()
        .http.get(`/1.0/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
        .set(master())
        .expect(200);
      seen.push(...(res.body.entries as Entry[]).map((e) => e.id));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    expect(seen).toEqual(all.map((e) => e.id));
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });

  it('filters by time and answers CSV', async () => {
    const future = await log(`?from=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future).toEqual([]);
    const res = await ctx()
      .http.get('/1.0/audit?format=csv&action=account.registered')
      .set(master())
      .expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'at,action,actor_type,actor_id,key_id,key_name,changes,ip,user_agent,request_id',
    );
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`,account.registered,anonymous,,${owner.masterKeyId},master,`);
  });

  it.each([
    ['?action=key.exploded', 'action must be one of'],
    ['?keyId=nope', 'keyId must be a key id'],
    ['?limit=0', 'limit must be a whole number from 1 to 1000'],
    ['?limit=1001', 'limit must be a whole number from 1 to 1000'],
    ['?cursor=abc', 'cursor must be the nextCursor'],
    ['?cursor=2147483648', 'cursor must be the nextCursor'],
    ['?cursor=99999999999', 'cursor must be the nextCursor'],
    ['?from=yesterday', 'from'],
    ['?from=2026-01-02&to=2026-01-01', 'from must be before to'],
    ['?format=xml', 'format must be json or csv'],
  ])('refuses %s with a 400 that says why', async (query, why) => {
    const res = await ctx().http.get(`/1.0/audit${query}`).set(master()).expect(400);
    expectEnvelope(res.body, 400);
    expect(messageOf(res.body)).toContain(why);
  });

  it('shows an account only its own log, and needs the master key', async () => {
    const other = await account(ctx().http);
    const theirs = await ctx()
      .http.get('/1.0/audit')
      .set('Authorization', basic(other.masterKey))
      .expect(200);
    expect((theirs.body.entries as Entry[]).map((e) => e.action)).toEqual(['account.registered']);
    const holder = await createKey(ctx().http, owner.masterKey, 'not-master');
    await ctx().http.get('/1.0/audit').set('Authorization', basic(holder.key)).expect(403);
    await ctx().http.get('/1.0/audit').expect(401);
  });

  it('cannot be changed or deleted, not even by SQL', async () => {
    const prisma = ctx().app.get(PrismaService);
    await expect(
      prisma.db.$executeRawUnsafe("UPDATE audit_entries SET action = 'x'"),
    ).rejects.toThrow(/append-only/);
    await expect(prisma.db.$executeRawUnsafe('DELETE FROM audit_entries')).rejects.toThrow(
      /append-only/,
    );
    for (const method of ['put', 'patch', 'delete', 'post'] as const) {
      const res = await ctx().http[method]('/1.0/audit').set(master());
      expect(res.status).toBe(404);
    }
  });

  it('holds no key, password or session token', async () => {
    const http = ctx().http;
    const fresh = await account(http);
    const holder = await createKey(http, fresh.masterKey, 'secret-holder');
    const byMaster = { Authorization: basic(fresh.masterKey) };
    await http.put(`/1.0/keys/${holder.key}`).set(byMaster).send({ name: 'secret-holder-2' });
    await http.get('/1.0/keys').set(byMaster).expect(200);
    await http
      .post('/api/v1/auth/session')
      .send({ email: fresh.email, password: `${fresh.password}-wrong` })
      .expect(401);
    const signedIn = await http
      .post('/api/v1/auth/session')
      .send({ email: fresh.email, password: fresh.password })
      .expect(200);
    const token = (signedIn.headers['set-cookie'] as unknown as string[])[0]
      .split(';')[0]
      .split('=')[1];
    const rows = await ctx()
      .app.get(PrismaService)
      .db.auditEntry.findMany({ where: { accountId: fresh.accountId } });
    expect(rows.map((r) => r.action).sort()).toEqual(
      [
        'account.registered',
        'key.created',
        // Listed twice by the master key: one entry per actor per window.
        'keys.revealed',
        'key.renamed',
        'sign_in.failed',
        'session.signed_in',
      ].sort(),
    );
    const dump = JSON.stringify(rows);
    for (const secret of [fresh.masterKey, holder.key, fresh.password, token]) {
      expect(dump).not.toContain(secret);
    }
  });
});
