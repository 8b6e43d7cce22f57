import { numberedPlaceholders } from '../src/prisma/driver';
import { PrismaService } from '../src/prisma/prisma.service';
import { providers, startApp, TestApp } from './helpers/app';
import { account, TestAccount } from './helpers/factory';

describe('numberedPlaceholders', () => {
  it('numbers ? in order for PostgreSQL', () => {
    expect(numberedPlaceholders('SELECT a FROM t WHERE b = ? AND c BETWEEN ? AND ?')).toBe(
      'SELECT a FROM t WHERE b = $1 AND c BETWEEN $2 AND $3',
    );
  });
});

for (const provider of providers()) {
  describe(`reads on the driver [${provider}]`, () => {
    let t: TestApp;
    let owner: TestAccount;
    let prisma: PrismaService;
    const sql = 'SELECT id, name, is_master FROM api_keys WHERE account_id = ? ORDER BY name';

    beforeAll(async () => {
      t = await startApp(provider);
      owner = await account(t.http);
      prisma = t.app.get(PrismaService);
    });
    afterAll(() => t.close());

    it('returns rows as arrays in column order, and counts each read as one statement', async () => {
      const before = prisma.statements;
      const rows = await prisma.reads.rows(sql, [owner.accountId]);
      expect(rows).toEqual([[owner.masterKeyId, 'master', provider === 'sqlite' ? 1 : true]]);
      expect(await prisma.reads.rows(sql, ['no such account'])).toEqual([]);
      expect(prisma.statements).toBe(before + 2);
    });

    it('sees what Prisma wrote a moment ago', async () => {
      await prisma.db.apiKey.update({
        where: { id: owner.masterKeyId },
        data: { name: 'renamed' },
      });
      expect(await prisma.reads.rows(sql, [owner.accountId])).toEqual([
        [owner.masterKeyId, 'renamed', provider === 'sqlite' ? 1 : true],
      ]);
    });

    if (provider === 'sqlite') {
      it("commits durably on Prisma's connection: WAL with synchronous FULL", async () => {
        const [{ journal_mode }] =
          await prisma.db.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode');
        const [{ synchronous }] =
          await prisma.db.$queryRawUnsafe<{ synchronous: unknown }[]>('PRAGMA synchronous');
        expect(journal_mode).toBe('wal');
        expect(Number(synchronous)).toBe(2);
      });
    }

    it('rejects a bad statement instead of throwing synchronously', async () => {
      // The driver's error may come from another realm than Jest's: match its message.
      await expect(prisma.reads.rows('SELECT nope FROM api_keys', [])).rejects.toMatchObject({
        message: expect.stringMatching(/nope/) as unknown,
      });
    });
  });
}
