import { randomBytes } from 'node:crypto';
import { LimitsEnforcer } from '../src/limits/limits-enforcer';
import { PrismaService } from '../src/prisma/prisma.service';
import type { KeyLimits } from '../src/limits/limits';
import { DAY_MS } from '../src/usage/time';
import { UsageMeter } from '../src/usage/usage-meter.service';
import { providers, startApp, TestApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { createDatabase, dropDatabase } from './helpers/postgres';
import { Received, verify, WebhookReceiver } from './helpers/webhook-receiver';

/** Flushes only when a test says so (and on close), so each test decides what one flush holds. */
const MANUAL_FLUSH = { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', USAGE_FLUSH_INTERVAL_MS: '3600000' };

interface Hook {
  id: string;
  secret: string;
}

async function subscribe(t: TestApp, who: TestAccount, url: string, events: string[]) {
  const res = await t.http
    .post('/1.0/webhooks')
    .set({ Authorization: basic(who.masterKey) })
    .send({ url, events })
    .expect(200);
  return res.body as Hook;
}

async function limitedKey(t: TestApp, who: TestAccount, quota: object) {
  const as = { Authorization: basic(who.masterKey) };
  const { body } = await t.http
    .post('/1.0/keys')
    .set(as)
    .send({ name: `plan-${randomBytes(3).toString('hex')}`, quota })
    .expect(200);
  const listed = await t.http.get('/1.0/keys').set(as).expect(200);
  const { id } = (listed.body.keys as { id: string; key: string }[]).find(
    (k) => k.key === body.key,
  )!;
  return { id, key: body.key as string, name: body.name as string };
}

/** What the key's quota counters say was served, over all its periods. */
async function served(t: TestApp, keyId: string): Promise<number> {
  const rows = await t.app.get(PrismaService).db.quotaCounter.findMany({ where: { keyId } });
  return rows.reduce((sum, row) => sum + Number(row.servedRequests), 0);
}

const use = (t: TestApp, key: string) => t.http.get('/1.0/me').set({ 'x-api-key': key });

/** Lets the worker deliver whatever is due, then a little more for anything that should not come. */
async function settle(receiver: WebhookReceiver, until: (r: Received[]) => boolean) {
  await receiver.until(until);
  await new Promise((resolve) => setTimeout(resolve, 600));
}

for (const provider of providers()) {
  describe(`usage.threshold webhooks [${provider}]`, () => {
    let t: TestApp;
    const receiver = new WebhookReceiver();
    const flush = () => t.app.get(UsageMeter).flush();

    beforeAll(async () => {
      await receiver.listen();
      t = await startApp(provider, { env: MANUAL_FLUSH });
    });
    afterAll(async () => {
      await t?.close();
      await receiver.close();
    });

    const thresholds = (keyId: string) =>
      receiver.ofType('usage.threshold').filter((r) => r.json.data.id === keyId);

    it('tells of 50, 80 and 100 % of a request quota once each, in the flush that crosses them, signed', async () => {
      const owner = await account(t.http);
      const hook = await subscribe(t, owner, receiver.url('/plan'), ['usage.threshold']);
      const other = await subscribe(t, owner, receiver.url('/keys-only'), ['key.deleted']);
      const { id, key, name } = await limitedKey(t, owner, { requests: 10, period: 'day' });

      const seen: number[][] = [];
      for (let i = 1; i <= 10; i++) {
        expect((await use(t, key)).status).toBe(200);
        await flush();
        await new Promise((resolve) => setTimeout(resolve, 30));
        seen.push(thresholds(id).map((r) => r.json.data.threshold as number));
      }
      expect((await use(t, key)).status).toBe(429);
      await flush();
      await settle(receiver, () => thresholds(id).length >= 3);

      const events = thresholds(id);
      expect(events.map((r) => r.json.data.threshold)).toEqual([50, 80, 100]);
      // Each arrived after the flush of the use that crossed it, not before.
      expect(seen[3]).toEqual([]);
      expect(seen[4]).toEqual([50]);
      expect(seen[7]).toEqual([50, 80]);
      const dayStart = Math.floor(Date.now() / DAY_MS) * DAY_MS;
      for (const [i, event] of events.entries()) {
        expect(verify(hook.secret, event)).toBe(true);
        expect(verify(other.secret, event)).toBe(false);
        expect(event.body).not.toContain(key);
        expect(event.json.data).toEqual({
          id,
          name,
          accountId: owner.accountId,
          isMaster: false,
          isActive: true,
          quota: { requests: 10, period: 'day', source: 'key' },
          metric: 'requests',
          threshold: [50, 80, 100][i],
          used: [5, 8, 10][i],
          limit: 10,
          period: 'day',
          periodStart: new Date(dayStart).toISOString(),
          resetsAt: new Date(dayStart + DAY_MS).toISOString(),
        });
      }
      expect(new Set(events.map((e) => e.id)).size).toBe(3);
      // The other endpoint is not subscribed to usage.threshold.
      expect(receiver.received.filter((r) => r.json.data.id === id)).toHaveLength(3);

      // Listed with its deliveries, like any event.
      const deliveries = await t.http
        .get(`/1.0/webhooks/${hook.id}/deliveries`)
        .set({ Authorization: basic(owner.masterKey) })
        .expect(200);
      const delivered = (deliveries.body.deliveries as { type: string; status: string }[])
        .filter((d) => d.type === 'usage.threshold')
        .map((d) => d.status);
      expect(delivered).toEqual(['delivered', 'delivered', 'delivered']);
    });

    it('tells of every threshold one flush crosses at once, for a volume quota too', async () => {
      const owner = await account(t.http);
      await subscribe(t, owner, receiver.url('/volume'), ['usage.threshold']);
      const { id, key } = await limitedKey(t, owner, {
        requests: 100,
        volumeBytes: 1000,
        period: 'month',
      });
      const enforcer = t.app.get(LimitsEnforcer);
      const meter = t.app.get(UsageMeter);
      // Nine requests in one flush: 50 and 80 % of the volume at once, 9 % of the requests.
      for (let i = 0; i < 9; i++) expect((await use(t, key)).status).toBe(200);
      // /1.0/me has no body: the volume comes in through the meter as the gateway's would.
      const limits = {
        rateLimit: null,
        rateSource: 'key',
        quota: { requests: 100, volumeBytes: 1000, period: 'month' },
        quotaSource: 'key',
      } satisfies KeyLimits;
      const verdict = await enforcer.check(id, limits, 850, Date.now());
      expect(verdict.refused).toBeNull();
      meter.record(id, 850);
      await flush();
      await settle(receiver, () => thresholds(id).length >= 2);
      const events = thresholds(id);
      expect(events.map((r) => [r.json.data.metric, r.json.data.threshold])).toEqual([
        ['volumeBytes', 50],
        ['volumeBytes', 80],
      ]);
      expect(events.map((r) => r.json.data.used)).toEqual([850, 850]);
      expect(events[0].json.data).toMatchObject({ limit: 1000, period: 'month' });
    });

    it('starts again in the next period, and not before', async () => {
      const owner = await account(t.http);
      await subscribe(t, owner, receiver.url('/periods'), ['usage.threshold']);
      const { id, key } = await limitedKey(t, owner, { requests: 2, period: 'day' });
      expect((await use(t, key)).status).toBe(200);
      await flush();
      await settle(receiver, () => thresholds(id).length >= 1);
      expect(thresholds(id).map((r) => r.json.data.threshold)).toEqual([50]);

      // Tomorrow, as the gate would see it: a use admitted in the next day's period.
      const tomorrow = (Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS + 60_000;
      const limits: KeyLimits = {
        rateLimit: null,
        rateSource: 'key',
        quota: { requests: 2, volumeBytes: null, period: 'day' },
        quotaSource: 'key',
      };
      expect((await t.app.get(LimitsEnforcer).check(id, limits, 0, tomorrow)).refused).toBeNull();
      t.app.get(UsageMeter).record(id, 0, tomorrow);
      await flush();
      await settle(receiver, () => thresholds(id).length >= 2);
      const events = thresholds(id);
      expect(events.map((r) => [r.json.data.threshold, r.json.data.periodStart])).toEqual([
        [50, new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS).toISOString()],
        [50, new Date(tomorrow - 60_000).toISOString()],
      ]);
      // Today's second use crosses 80 and 100 % of today, once each.
      expect((await use(t, key)).status).toBe(200);
      expect((await use(t, key)).status).toBe(429);
      await flush();
      await settle(receiver, () => thresholds(id).length >= 4);
      expect(thresholds(id).map((r) => r.json.data.threshold)).toEqual([50, 50, 80, 100]);
    });

    it('writes nothing for a key without a quota or an account without a subscription', async () => {
      const owner = await account(t.http);
      const as = { Authorization: basic(owner.masterKey) };
      const { body } = await t.http.post('/1.0/keys').set(as).send({ name: 'free' }).expect(200);
      const quiet = await account(t.http);
      const planned = await limitedKey(t, quiet, { requests: 2, period: 'day' });
      await subscribe(t, owner, receiver.url('/none'), ['usage.threshold']);
      for (let i = 0; i < 3; i++) await use(t, body.key as string).expect(200);
      await use(t, planned.key).expect(200);
      await use(t, planned.key).expect(200);
      await flush();
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(
        receiver
          .ofType('usage.threshold')
          .filter((r) =>
            [owner.accountId, quiet.accountId].includes(r.json.data.accountId as string),
          ),
      ).toEqual([]);
      // The quota still counted what it served, for a subscription made later this period.
      expect(await served(t, planned.id)).toBe(2);
    });

    it('tells nothing under a quota removed since, and counts a changed one from where it is', async () => {
      const owner = await account(t.http);
      const as = { Authorization: basic(owner.masterKey) };
      await subscribe(t, owner, receiver.url('/changes'), ['usage.threshold']);
      const removed = await limitedKey(t, owner, { requests: 10, period: 'day' });
      const raised = await limitedKey(t, owner, { requests: 10, period: 'day' });
      for (let i = 0; i < 4; i++) await use(t, removed.key).expect(200);
      for (let i = 0; i < 10; i++) await use(t, raised.key).expect(200);
      await flush();
      await settle(receiver, () => thresholds(raised.id).length >= 3);
      await t.http.patch(`/1.0/keys/${removed.id}`).set(as).send({ quota: null }).expect(200);
      await t.http
        .patch(`/1.0/keys/${raised.id}`)
        .set(as)
        .send({ quota: { requests: 20, period: 'day' } })
        .expect(200);
      // 8 of the old 10, and 16 of the new 20 (50 % of it was passed before the change).
      for (let i = 0; i < 4; i++) await use(t, removed.key).expect(200);
      for (let i = 0; i < 6; i++) await use(t, raised.key).expect(200);
      await flush();
      await settle(receiver, () => thresholds(raised.id).length >= 4);
      expect(thresholds(removed.id)).toEqual([]);
      expect(
        thresholds(raised.id).map((r) => [
          r.json.data.threshold,
          r.json.data.limit,
          r.json.data.used,
        ]),
      ).toEqual([
        [50, 10, 10],
        [80, 10, 10],
        [100, 10, 10],
        [80, 20, 16],
      ]);
    });
  });

  describe(`usage.threshold in strict mode [${provider}]`, () => {
    let t: TestApp;
    const receiver = new WebhookReceiver();

    beforeAll(async () => {
      await receiver.listen();
      t = await startApp(provider, {
        env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', USAGE_FLUSH_INTERVAL_MS: '0' },
      });
    });
    afterAll(async () => {
      await t?.close();
      await receiver.close();
    });

    it('writes each crossing with the use that crosses it, with no flush to wait for', async () => {
      const owner = await account(t.http);
      await subscribe(t, owner, receiver.url('/strict'), ['usage.threshold']);
      const { id, key } = await limitedKey(t, owner, { requests: 4, period: 'month' });
      const mine = () => receiver.ofType('usage.threshold').filter((r) => r.json.data.id === id);
      await use(t, key).expect(200);
      await use(t, key).expect(200);
      await receiver.until(() => mine().length >= 1);
      await use(t, key).expect(200);
      await use(t, key).expect(200);
      await settle(receiver, () => mine().length >= 3);
      expect(mine().map((r) => [r.json.data.threshold, r.json.data.used])).toEqual([
        [50, 2],
        [80, 4],
        [100, 4],
      ]);
      expect(await served(t, id)).toBe(4);
    });
  });
}

if (providers().includes('postgresql')) {
  describe('derived-id webhook events across two instances [postgresql]', () => {
    let databaseUrl: string;
    let a: TestApp | undefined;
    let b: TestApp | undefined;
    const receiver = new WebhookReceiver();
    const env = { ...MANUAL_FLUSH, KEYMETER_SECRET: randomBytes(32).toString('hex') };

    beforeAll(async () => {
      await receiver.listen();
      databaseUrl = await createDatabase();
      a = await startApp('postgresql', { databaseUrl, env });
      b = await startApp('postgresql', { databaseUrl, env });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await receiver.close();
      if (databaseUrl) await dropDatabase(databaseUrl);
    });

    it('tells of each threshold once when both serve the key and flush at the same moment', async () => {
      const owner = await account(a!.http);
      const hook = await subscribe(a!, owner, receiver.url('/shared'), ['usage.threshold']);
      const { id, key } = await limitedKey(a!, owner, { requests: 60, period: 'day' });
      const flushBoth = () =>
        Promise.all([a!.app.get(UsageMeter).flush(), b!.app.get(UsageMeter).flush()]);
      // Rounds of 6 concurrent uses on each instance, both flushing together after each: the
      // two flushes of one round race for the same counters row.
      const statuses: number[] = [];
      for (let round = 0; round < 6; round++) {
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, i) => use(i % 2 === 0 ? a! : b!, key)),
        );
        statuses.push(...answers.map((r) => r.status));
        await flushBoth();
      }
      await flushBoth();
      expect(statuses.filter((s) => s === 200)).toHaveLength(60);
      await settle(
        receiver,
        () => receiver.ofType('usage.threshold').filter((r) => r.json.data.id === id).length >= 3,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const events = receiver.ofType('usage.threshold').filter((r) => r.json.data.id === id);
      expect(
        events.map((r) => r.json.data.threshold).sort((x, y) => Number(x) - Number(y)),
      ).toEqual([50, 80, 100]);
      expect(events.every((e) => verify(hook.secret, e))).toBe(true);
      // Both instances' flushes added up exactly, one after the other.
      expect(await served(a!, id)).toBe(60);
      // Each crossing's figure is the total both instances had served when it was crossed.
      for (const event of events) {
        const { threshold, used } = event.json.data as { threshold: number; used: number };
        expect(used).toBeGreaterThanOrEqual((60 * threshold) / 100);
        expect(used).toBeLessThan((60 * threshold) / 100 + 12);
      }
    });

    it('writes usage.rate_limited once a minute when both instances refuse the key', async () => {
      const owner = await account(a!.http);
      await subscribe(a!, owner, receiver.url('/refused'), ['usage.rate_limited']);
      const as = { Authorization: basic(owner.masterKey) };
      const { body } = await a!.http
        .post('/1.0/keys')
        .set(as)
        .send({ name: 'limited', rateLimit: { limit: 2, windowSeconds: 60 } })
        .expect(200);
      const minuteBefore = Math.floor(Date.now() / 60_000);
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) => use(i % 2 === 0 ? a! : b!, body.key as string)),
      );
      const minuteAfter = Math.floor(Date.now() / 60_000);
      const refusedBy = (t: TestApp) =>
        answers.filter((r, i) => r.status === 429 && (i % 2 === 0 ? a : b) === t).length;
      // Both instances refused the key, each noticing its own first refusal of the minute.
      expect(refusedBy(a!)).toBeGreaterThan(0);
      expect(refusedBy(b!)).toBeGreaterThan(0);
      const mine = () =>
        receiver
          .ofType('usage.rate_limited')
          .filter((r) => r.json.data.accountId === owner.accountId);
      await settle(receiver, () => mine().length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(mine().length).toBeLessThanOrEqual(minuteAfter - minuteBefore + 1);
      expect(new Set(mine().map((r) => r.json.data.minute)).size).toBe(mine().length);
    });
  });
} else {
  describe('derived-id webhook events across two instances', () => {
    it.skip('needs PostgreSQL (see the banner of global-setup)', () => {});
  });
}
