import { PrismaService } from '../src/prisma/prisma.service';
import { KeyUsage } from '../src/usage/pending-usage';
import { MINUTE_MS } from '../src/usage/time';
import { UsageRepository } from '../src/usage/usage.repository';
import { describeEachDatabase } from './helpers/app';
import { account } from './helpers/factory';
import { createKey } from './helpers/optidash-fixtures';

/** A fixed minute, far from now: nothing the app meters by itself lands near it. */
const M0 = Math.floor(Date.UTC(2024, 4, 1, 9, 0) / MINUTE_MS);

function usage(lastUsedMs: number, minutes: [number, number, number][]): KeyUsage {
  return {
    count: minutes.reduce((n, [, c]) => n + c, 0),
    volume: minutes.reduce((n, [, , v]) => n + v, 0),
    volumeOut: 0,
    lastUsedMs,
    minutes: new Map(minutes.map(([m, count, volume]) => [m, { count, volume }])),
  };
}

describeEachDatabase('the flush write (UsageRepository.addUsage)', (ctx) => {
  const setUp = async (names: string[]) => {
    const { http, app } = ctx();
    const owner = await account(http);
    const ids: string[] = [];
    for (const name of names) ids.push((await createKey(http, owner.masterKey, name)).id);
    return { repository: app.get(UsageRepository), prisma: app.get(PrismaService), ids };
  };

  const stored = async (prisma: PrismaService, id: string) => {
    const key = await prisma.db.apiKey.findUniqueOrThrow({ where: { id } });
    const minutes = await prisma.db.usageMinute.findMany({
      where: { keyId: id },
      orderBy: { minute: 'asc' },
    });
    return {
      count: Number(key.usageCount),
      volume: Number(key.usageVolume),
      lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
      minutes: minutes.map((m) => [m.minute, Number(m.count), Number(m.volume)]),
    };
  };

  it('adds batches up per minute and per key, and moves lastUsedAt only forward', async () => {
    const { repository, prisma, ids } = await setUp(['a']);
    const [a] = ids;
    const late = (M0 + 5) * MINUTE_MS + 1234;
    const early = (M0 + 1) * MINUTE_MS;
    await repository.addUsage(
      new Map([
        [
          a,
          usage(late, [
            [M0 + 5, 2, 100],
            [M0, 1, 10],
          ]),
        ],
      ]),
    );
    await repository.addUsage(new Map([[a, usage(early, [[M0, 3, 3_000_000_000]])]]));
    expect(await stored(prisma, a)).toEqual({
      count: 6,
      volume: 3_000_000_110,
      lastUsedAt: new Date(late).toISOString(),
      minutes: [
        [M0, 4, 3_000_000_010],
        [M0 + 5, 2, 100],
      ],
    });
  });

  it('drops the usage of a key that no longer exists and writes the others', async () => {
    const { repository, prisma, ids } = await setUp(['kept', 'gone']);
    const [kept, gone] = ids;
    await prisma.db.apiKey.delete({ where: { id: gone } });
    const at = M0 * MINUTE_MS;
    await repository.addUsage(
      new Map([
        [gone, usage(at, [[M0, 1, 1]])],
        [kept, usage(at, [[M0, 2, 2]])],
        ['no-such-key', usage(at, [[M0, 3, 3]])],
      ]),
    );
    expect(await stored(prisma, kept)).toEqual({
      count: 2,
      volume: 2,
      lastUsedAt: new Date(at).toISOString(),
      minutes: [[M0, 2, 2]],
    });
    expect(
      await prisma.db.usageMinute.count({ where: { keyId: { in: [gone, 'no-such-key'] } } }),
    ).toBe(0);
  });

  it('writes a batch of 3,000 keys × 2 minutes in one go', async () => {
    const { repository, prisma, ids } = await setUp(['many']);
    const [key] = ids;
    // One real key carries the minutes; the rest are unknown ids, skipped by the same SQL.
    const batch = new Map<string, KeyUsage>();
    for (let i = 0; i < 3000; i++) {
      batch.set(
        i === 1500 ? key : `absent-${i}`,
        usage(M0 * MINUTE_MS, [
          [M0, 1, i],
          [M0 + 1, 1, 1],
        ]),
      );
    }
    await repository.addUsage(batch);
    expect(await stored(prisma, key)).toMatchObject({
      count: 2,
      volume: 1501,
      minutes: [
        [M0, 1, 1500],
        [M0 + 1, 1, 1],
      ],
    });
  });
});
