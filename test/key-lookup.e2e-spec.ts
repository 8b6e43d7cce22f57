import { KeyVault } from '../src/common/crypto/key-vault.service';
import { KeyCache } from '../src/access/key-cache.service';
import { KeyAccessRepository } from '../src/access/key-access.repository';
import { KeysRepository } from '../src/keys/keys.repository';
import { KeysService } from '../src/keys/keys.service';
import { PrismaService } from '../src/prisma/prisma.service';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { providers, startApp, TestApp } from './helpers/app';
import { account, basic, masterActor, TestAccount } from './helpers/factory';
import { POSTGRES_ADMIN_URL } from './helpers/postgres';
import { Client } from 'pg';

/** A promise with its resolve, to hold a lookup in flight until the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

for (const provider of providers()) {
  describe(`key lookup by hash [${provider}]`, () => {
    let t: TestApp;
    let owner: TestAccount;
    let prisma: PrismaService;
    let cache: KeyCache;
    let repository: KeysRepository;
    let access: KeyAccessRepository;
    let vault: KeyVault;

    /** A new (non-master) key of the owner, not yet looked up by anyone. */
    async function newKey(name: string): Promise<{ id: string; key: string; hash: string }> {
      const { key, stored } = await t.app.get(KeysService).create(masterActor(owner), name);
      return { id: stored.id, key, hash: vault.hash(key) };
    }

    /** Statements sent while `work` runs, with nothing of the meter's in between. */
    async function statementsOf(work: () => Promise<unknown>): Promise<number> {
      await t.app.get(UsageMeter).flush();
      const before = prisma.statements;
      await work();
      return prisma.statements - before;
    }

    /**
     * The fewest statements `work` took in up to three tries, each on a fresh setup: the count is
     * the process's, and background work (the webhook worker's idle check every 5 s, the expiry
     * scan) may land in a window now and then; it cannot land in every one.
     */
    async function fewestStatementsOf(setUp: () => Promise<() => Promise<unknown>>) {
      let fewest = Infinity;
      for (let attempt = 0; attempt < 3 && fewest > 1; attempt++) {
        fewest = Math.min(fewest, await statementsOf(await setUp()));
      }
      return fewest;
    }

    beforeAll(async () => {
      t = await startApp(provider);
      owner = await account(t.http);
      prisma = t.app.get(PrismaService);
      cache = t.app.get(KeyCache);
      repository = t.app.get(KeysRepository);
      access = t.app.get(KeyAccessRepository);
      vault = t.app.get(KeyVault);
    });
    afterAll(() => t.close());

    it('returns what the guard needs, with real booleans, as Prisma stores it', async () => {
      const plain = await newKey('plain');
      await prisma.db.apiKey.update({ where: { id: plain.id }, data: { isActive: false } });
      const master = vault.hash(owner.masterKey);

      expect(await access.findByHash(plain.hash)).toStrictEqual({
        id: plain.id,
        accountId: owner.accountId,
        name: 'plain',
        isMaster: false,
        isActive: false,
        expiresAtMs: null,
        limits: null,
      });
      expect(await access.findByHash(master)).toStrictEqual({
        id: owner.masterKeyId,
        accountId: owner.accountId,
        name: 'master',
        isMaster: true,
        isActive: true,
        expiresAtMs: null,
        limits: null,
      });
      // An expiry as Prisma writes it reads back to the millisecond, on both databases.
      const expiresAt = new Date('2031-05-06T07:08:09.123Z');
      await prisma.db.apiKey.update({ where: { id: plain.id }, data: { expiresAt } });
      expect(await access.findByHash(plain.hash)).toMatchObject({
        expiresAtMs: expiresAt.getTime(),
        limits: null,
      });
      expect(await access.findByHash('0'.repeat(64))).toBeNull();
    });

    it('resolves a key by plaintext only within its account, with dates and big totals', async () => {
      const big = await newKey('big totals');
      const count = 2 ** 53 - 1;
      const lastUsedAt = new Date('2026-01-02T03:04:05.999Z');
      await prisma.db.apiKey.update({
        where: { id: big.id },
        data: {
          usageCount: BigInt(count),
          usageVolume: 5_000_000_000n,
          usageVolumeOut: 7_000_000_000n,
          lastUsedAt,
        },
      });
      const stored = await repository.findInAccountByHash(owner.accountId, big.hash);
      expect(stored).toMatchObject({
        id: big.id,
        isMaster: false,
        isActive: true,
        usageCount: count,
        usageVolume: 5_000_000_000,
        usageVolumeOut: 7_000_000_000,
        lastUsedAt,
      });
      expect(stored?.createdAt).toBeInstanceOf(Date);
      // The driver's reading (dates as epoch ms in SQL) equals Prisma's, field for field.
      const viaPrisma = await prisma.db.apiKey.findUniqueOrThrow({ where: { id: big.id } });
      const expected = {
        id: big.id,
        accountId: owner.accountId,
        name: 'big totals',
        isMaster: false,
        isActive: true,
        createdAt: viaPrisma.createdAt,
        updatedAt: viaPrisma.updatedAt,
        lastUsedAt,
        usageCount: count,
        usageVolume: 5_000_000_000,
        usageVolumeOut: 7_000_000_000,
        prefix: viaPrisma.prefix,
        ciphertext: viaPrisma.ciphertext,
        expiresAtMs: null,
        limits: null,
        supersededBy: '',
        lineageId: null,
      };
      expect(stored).toStrictEqual(expected);
      expect(await repository.findInAccount(owner.accountId, big.id)).toStrictEqual(expected);
      const master = await repository.findInAccountByHash(
        owner.accountId,
        vault.hash(owner.masterKey),
      );
      expect(master).toMatchObject({ id: owner.masterKeyId, isMaster: true, isActive: true });

      // lastUsedAt and the totals as the usage flush writes them (its own SQL, not Prisma's).
      await t.http.get('/1.0/keys').set('Authorization', basic(owner.masterKey)).expect(200);
      await t.app.get(UsageMeter).flush();
      const flushed = await prisma.db.apiKey.findUniqueOrThrow({
        where: { id: owner.masterKeyId },
      });
      expect(flushed.lastUsedAt).toBeInstanceOf(Date);
      expect(await repository.findInAccount(owner.accountId, owner.masterKeyId)).toMatchObject({
        lastUsedAt: flushed.lastUsedAt,
        usageCount: Number(flushed.usageCount),
        usageVolume: Number(flushed.usageVolume),
      });

      if (provider === 'sqlite') {
        // Prisma's adapter can also store integer ms (timestampFormat: 'unixepoch-ms').
        await prisma.db.$executeRawUnsafe(
          'UPDATE api_keys SET updated_at = ? WHERE id = ?',
          lastUsedAt.getTime(),
          big.id,
        );
        expect(await repository.findInAccount(owner.accountId, big.id)).toMatchObject({
          updatedAt: lastUsedAt,
        });
      }

      const unused = await newKey('never used');
      expect(await repository.findInAccount(owner.accountId, unused.id)).toMatchObject({
        lastUsedAt: null,
        usageCount: 0,
        usageVolume: 0,
      });

      const stranger = await account(t.http);
      expect(await repository.findInAccountByHash(stranger.accountId, big.hash)).toBeNull();
      expect(await repository.findInAccount(stranger.accountId, big.id)).toBeNull();
      await t.http
        .get(`/1.0/keys/${big.key}`)
        .set('Authorization', basic(stranger.masterKey))
        .expect(404);
    });

    it('sends one statement for many concurrent misses of one key', async () => {
      let fresh = await newKey('fresh for the cache');
      let answers: unknown[] = [];
      let tries = 0;
      const sent = await fewestStatementsOf(async () => {
        fresh = await newKey(`fresh for the cache ${tries++}`);
        return async () => {
          answers = await Promise.all(Array.from({ length: 50 }, () => cache.find(fresh.hash)));
        };
      });
      expect(sent).toBe(1);
      expect(new Set(answers.map((a) => (a as { id: string }).id))).toEqual(new Set([fresh.id]));
      expect(cache.find(fresh.hash)).toMatchObject({ id: fresh.id, isActive: true });
    });

    it('serves concurrent requests that miss the cache with one lookup', async () => {
      // A non-master key on a master route: looked up, then 403 without metering.
      let codes: number[] = [];
      let tries = 0;
      const sent = await fewestStatementsOf(async () => {
        const fresh = await newKey(`fresh over http ${tries++}`);
        return async () => {
          const requests = Array.from({ length: 20 }, () =>
            t.http.get('/1.0/keys').set('Authorization', basic(fresh.key)),
          );
          codes = (await Promise.all(requests)).map((res) => res.status);
        };
      });
      expect(codes).toEqual(Array.from({ length: 20 }, () => 403));
      expect(sent).toBe(1);
    });

    it('shares one lookup of an unknown key, and remembers it as unknown', async () => {
      const sent = await fewestStatementsOf(async () => {
        const { key } = t.app.get(KeysService).newKey('never stored');
        const hash = vault.hash(key);
        return async () => {
          const answers = await Promise.all(Array.from({ length: 10 }, () => cache.find(hash)));
          expect(answers).toEqual(Array.from({ length: 10 }, () => null));
          expect(cache.find(hash)).toBeNull();
        };
      });
      expect(sent).toBe(1);
    });

    it('does not let a lookup in flight during a deactivation answer later requests or re-cache the key', async () => {
      const raced = await newKey('raced');
      const findByHash = access.findByHash.bind(access);
      const loaded = gate();
      const release = gate();
      let held = false;
      const spy = jest.spyOn(access, 'findByHash').mockImplementation(async (hash) => {
        const row = await findByHash(hash);
        if (hash === raced.hash && !held) {
          held = true;
          loaded.open();
          await release.promise;
        }
        return row;
      });
      try {
        const first = cache.find(raced.hash);
        const joined = cache.find(raced.hash);
        expect(joined).toBe(first);
        await loaded.promise;

        await t.http
          .patch(`/1.0/keys/${raced.id}`)
          .set('Authorization', basic(owner.masterKey))
          .send({ isActive: false })
          .expect(200);
        // Asked after the change, while the old lookup is still held: not joined to it.
        const after = await cache.find(raced.hash);
        expect(after).toMatchObject({ id: raced.id, isActive: false });
        const next = await t.http.get('/1.0/me').set('Authorization', basic(raced.key));
        expect(next.status).toBe(401);

        release.open();
        // The lookups that began before the change get what was true when they began...
        expect(await first).toMatchObject({ id: raced.id, isActive: true });
        // ...but do not put it back in the cache.
        expect(cache.get(raced.hash)).toMatchObject({ isActive: false });
        expect(spy.mock.calls.filter(([hash]) => hash === raced.hash)).toHaveLength(2);
      } finally {
        release.open();
        spy.mockRestore();
      }
    });

    it('looks a key up again after it is deleted while a lookup of it is in flight', async () => {
      const doomed = await newKey('doomed');
      const findByHash = access.findByHash.bind(access);
      const loaded = gate();
      const release = gate();
      const spy = jest.spyOn(access, 'findByHash').mockImplementation(async (hash) => {
        const row = await findByHash(hash);
        if (hash === doomed.hash) {
          loaded.open();
          await release.promise;
        }
        return row;
      });
      try {
        const first = cache.find(doomed.hash);
        await loaded.promise;
        await t.http
          .delete(`/1.0/keys/${doomed.id}`)
          .set('Authorization', basic(owner.masterKey))
          .expect(200);
        release.open();
        expect(await first).toMatchObject({ id: doomed.id });
        expect(cache.get(doomed.hash)).toBeUndefined();
      } finally {
        release.open();
        spy.mockRestore();
      }
      expect(await cache.find(doomed.hash)).toBeNull();
    });

    it('passes a failed lookup to every request that waited for it, then tries again', async () => {
      const flaky = await newKey('flaky');
      const spy = jest
        .spyOn(access, 'findByHash')
        .mockRejectedValueOnce(new Error('connection reset'));
      try {
        const waiting = [cache.find(flaky.hash), cache.find(flaky.hash)];
        for (const lookup of waiting) await expect(lookup).rejects.toThrow('connection reset');
        expect(await cache.find(flaky.hash)).toMatchObject({ id: flaky.id });
        expect(spy).toHaveBeenCalledTimes(2);
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe(`key cache bound [${provider}]`, () => {
    let t: TestApp;
    let owner: TestAccount;

    beforeAll(async () => {
      t = await startApp(provider, { env: { KEY_CACHE_MAX: '3' } });
      owner = await account(t.http);
    });
    afterAll(() => t.close());

    it('holds at most KEY_CACHE_MAX keys, and unknown keys do not push known ones out', async () => {
      const cache = t.app.get(KeyCache);
      const vault = t.app.get(KeyVault);
      const prisma = t.app.get(PrismaService);
      const service = t.app.get(KeysService);
      const hashes: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { key } = await service.create(masterActor(owner), `bounded ${i}`);
        hashes.push(vault.hash(key));
        await cache.find(hashes[i]);
      }
      expect(cache.size.known).toBe(3);
      const kept = hashes.slice(2);
      for (const hash of kept) expect(cache.get(hash)).toMatchObject({ isActive: true });

      for (let i = 0; i < 10; i++) {
        await cache.find(vault.hash(service.newKey(`forged ${i}`).key));
      }
      expect(cache.size.unknown).toBe(3);
      const before = prisma.statements;
      for (const hash of kept) expect(cache.find(hash)).toMatchObject({ isActive: true });
      expect(prisma.statements).toBe(before);
    });
  });

  describe(`key cache refresh [${provider}]`, () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startApp(provider, { env: { KEY_CACHE_TTL_MS: '50' } });
    });
    afterAll(() => t.close());

    it('keeps the cached entry when a refresh finds the key unchanged, and replaces it when not', async () => {
      const owner = await account(t.http);
      const cache = t.app.get(KeyCache);
      const prisma = t.app.get(PrismaService);
      const { key, stored } = await t.app.get(KeysService).create(masterActor(owner), 'refreshed');
      const hash = t.app.get(KeyVault).hash(key);
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

      const first = await cache.find(hash);
      await sleep(80);
      expect(cache.get(hash)).toBeUndefined();
      const refreshed = cache.find(hash);
      expect(refreshed).toBeInstanceOf(Promise);
      expect(await refreshed).toBe(first);
      expect(cache.find(hash)).toBe(first);

      // Renamed by another instance: nothing evicts it here, the next refresh sees it.
      await prisma.db.apiKey.update({ where: { id: stored.id }, data: { name: 'renamed' } });
      await sleep(80);
      const renamed = await cache.find(hash);
      expect(renamed).not.toBe(first);
      expect(renamed).toMatchObject({ id: stored.id, name: 'renamed' });
      expect(cache.find(hash)).toBe(renamed);
    });
  });

  if (provider === 'postgresql') {
    describe('key lookup when PostgreSQL closes idle connections', () => {
      let t: TestApp;

      beforeAll(async () => {
        t = await startApp(provider);
      });
      afterAll(() => t.close());

      // Prisma's adapter listens for errors of idle connections only while connected: during
      // shutdown, after $disconnect, the driver's reads' pool must not end the process.
      it('keeps running, and looks keys up on a new connection, even with Prisma disconnected', async () => {
        const owner = await account(t.http);
        const access = t.app.get(KeyAccessRepository);
        const hash = t.app.get(KeyVault).hash(owner.masterKey);
        expect(await access.findByHash(hash)).toMatchObject({ id: owner.masterKeyId });

        const prisma = t.app.get(PrismaService);
        await prisma.db.$disconnect();
        const { database: db } = t.config;
        if (db.provider !== 'postgresql') throw new Error('this suite runs on PostgreSQL');
        const database = new URL(db.url).pathname.slice(1);
        const admin = new Client({ connectionString: POSTGRES_ADMIN_URL });
        await admin.connect();
        try {
          const closed = await admin.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [database],
          );
          expect(closed.rowCount).toBeGreaterThan(0);
        } finally {
          await admin.end();
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(await access.findByHash(hash)).toMatchObject({ id: owner.masterKeyId });
        await prisma.db.$connect();

        expect(await access.findByHash(hash)).toMatchObject({ id: owner.masterKeyId });
        await t.http.get('/1.0/me').set('Authorization', basic(owner.masterKey)).expect(200);
      });
    });
  }
}
