import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KeyExpiryEvents } from '../src/webhooks/key-expiry-events';
import { WebhookRetention } from '../src/webhooks/webhook-retention';
import { WEBHOOK_CLOCK } from '../src/webhooks/webhook-clock';
import { providers, startApp, TestApp } from './helpers/app';
import { account, basic, TestAccount } from './helpers/factory';
import { createDatabase, dropDatabase } from './helpers/postgres';
import { verify, WebhookReceiver } from './helpers/webhook-receiver';

const ALL = ['key.created', 'key.updated', 'key.deleted', 'key.rolled'];
const HOUR = 3_600_000;

for (const provider of providers()) {
  describe(`webhooks [${provider}]`, () => {
    let t: TestApp;
    let owner: TestAccount;
    const receiver = new WebhookReceiver();
    const master = () => ({ Authorization: basic(owner.masterKey) });

    beforeAll(async () => {
      await receiver.listen();
      t = await startApp(provider, { env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' } });
      owner = await account(t.http);
    });
    afterAll(async () => {
      await t?.close();
      await receiver.close();
    });

    async function endpoint(events = ALL, url = receiver.url(), who = owner) {
      const res = await t.http
        .post('/1.0/webhooks')
        .set({ Authorization: basic(who.masterKey) })
        .send({ url, events })
        .expect(200);
      return res.body as { id: string; secret: string; url: string; events: string[] };
    }

    describe('endpoints', () => {
      it('creates an endpoint and shows its secret once', async () => {
        const res = await t.http
          .post('/1.0/webhooks')
          .set(master())
          .send({ url: receiver.url('/crud'), events: ['key.created'], description: 'crm' })
          .expect(200);
        expect(res.body).toMatchObject({
          success: true,
          url: receiver.url('/crud'),
          events: ['key.created'],
          description: 'crm',
          enabled: true,
        });
        expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
        const { id } = res.body as { id: string };
        const one = await t.http.get(`/1.0/webhooks/${id}`).set(master()).expect(200);
        expect(one.body).toMatchObject({ id, url: receiver.url('/crud') });
        expect(JSON.stringify(one.body)).not.toContain(res.body.secret);
        expect(one.body).not.toHaveProperty('secret');
        const list = await t.http.get('/1.0/webhooks').set(master()).expect(200);
        expect(list.body.webhooks.map((w: { id: string }) => w.id)).toContain(id);
        expect(JSON.stringify(list.body)).not.toContain('whsec_');

        const patched = await t.http
          .patch(`/1.0/webhooks/${id}`)
          .set(master())
          .send({ events: ['key.deleted', 'key.rolled'], enabled: false, description: null })
          .expect(200);
        expect(patched.body).toMatchObject({
          events: ['key.deleted', 'key.rolled'],
          enabled: false,
          description: null,
        });
        await t.http.delete(`/1.0/webhooks/${id}`).set(master()).expect(200);
        await t.http.get(`/1.0/webhooks/${id}`).set(master()).expect(404);
      });

      it.each([
        [{ events: ['key.created'] }, 'url must be a string'],
        [{ url: 'https://x.example', events: [] }, 'events must name at least one event type'],
        [
          { url: 'https://x.example', events: ['key.nope'] },
          'events must contain only key.created, key.updated, key.deleted, key.rolled, key.expiring, key.expired, usage.threshold, usage.rate_limited',
        ],
        [{ url: 'ftp://127.0.0.1/', events: ['key.created'] }, 'url must start with https://'],
        [{ url: 'http://8.8.8.8/', events: ['key.created'] }, 'a public address: use https'],
        [{ url: 'https://no-such-host.invalid/', events: ['key.created'] }, 'does not resolve'],
        [
          { url: 'http://127.0.0.1:9/', events: ['key.created'], secret: 'x' },
          'property secret should not exist',
        ],
      ])('refuses %j with 400 naming the field', async (body, message) => {
        const res = await t.http.post('/1.0/webhooks').set(master()).send(body).expect(400);
        expect(JSON.stringify(res.body.message)).toContain(message);
      });

      it("answers 404 for another account's endpoint, on every route", async () => {
        const { id } = await endpoint(['key.created'], receiver.url('/other'));
        const other = await account(t.http);
        const as = { Authorization: basic(other.masterKey) };
        await t.http.get(`/1.0/webhooks/${id}`).set(as).expect(404);
        await t.http.patch(`/1.0/webhooks/${id}`).set(as).send({ enabled: false }).expect(404);
        await t.http.post(`/1.0/webhooks/${id}/rotate-secret`).set(as).expect(404);
        await t.http.post(`/1.0/webhooks/${id}/test`).set(as).expect(404);
        await t.http.get(`/1.0/webhooks/${id}/deliveries`).set(as).expect(404);
        await t.http.delete(`/1.0/webhooks/${id}`).set(as).expect(404);
        await t.http.get(`/1.0/webhooks/${id}`).set(master()).expect(200);
        await t.http.delete(`/1.0/webhooks/${id}`).set(master()).expect(200);
      });

      it('refuses a key that is not the master key (403)', async () => {
        const { body } = await t.http.post('/1.0/keys').set(master()).send({ name: 'plain' });
        await t.http
          .get('/1.0/webhooks')
          .set({ Authorization: basic(body.key as string) })
          .expect(403);
        await t.http
          .delete(`/1.0/keys/${body.key as string}`)
          .set(master())
          .expect(200);
      });

      it('holds an account to 20 endpoints (409 beyond)', async () => {
        const other = await account(t.http);
        for (let i = 0; i < 20; i++) await endpoint(['key.created'], receiver.url(`/n${i}`), other);
        const res = await t.http
          .post('/1.0/webhooks')
          .set({ Authorization: basic(other.masterKey) })
          .send({ url: receiver.url('/n20'), events: ['key.created'] })
          .expect(409);
        expect(res.body.message).toContain('20 webhook endpoints');
      });
    });

    describe('events', () => {
      it('delivers key.created, updated, rolled and deleted once each per subscribed endpoint, signed', async () => {
        const owner2 = await account(t.http);
        const as = { Authorization: basic(owner2.masterKey) };
        const all = await endpoint(ALL, receiver.url('/all'), owner2);
        const deletes = await endpoint(['key.deleted'], receiver.url('/deletes'), owner2);
        const mine = () =>
          receiver.received.filter((r) => r.json.data.accountId === owner2.accountId);

        const latencies: number[] = [];
        const timed = async (count: number, change: () => Promise<unknown>) => {
          const before = mine().length;
          const started = Date.now();
          await change();
          await receiver.until(() => mine().length >= before + count);
          latencies.push(
            Math.max(
              ...mine()
                .slice(before)
                .map((r) => r.at),
            ) - started,
          );
        };
        let key = '';
        await timed(1, async () => {
          const res = await t.http
            .post('/1.0/keys')
            .set(as)
            .send({ name: 'hooked', rateLimit: { limit: 10, windowSeconds: 60 } })
            .expect(200);
          key = res.body.key as string;
        });
        await timed(1, () =>
          t.http.patch(`/1.0/keys/${key}`).set(as).send({ name: 'renamed' }).expect(200),
        );
        let rolledKey = '';
        await timed(1, async () => {
          const res = await t.http
            .post(`/1.0/keys/${key}/roll`)
            .set(as)
            .send({ gracePeriodSeconds: 60 })
            .expect(200);
          rolledKey = res.body.key as string;
        });
        await timed(2, () => t.http.delete(`/1.0/keys/${rolledKey}`).set(as).expect(200));
        // Nothing more arrives (exactly one per subscribed endpoint).
        await new Promise((resolve) => setTimeout(resolve, 700));

        const got = mine();
        expect(got.map((r) => r.json.type).sort()).toEqual(
          ['key.created', 'key.deleted', 'key.deleted', 'key.rolled', 'key.updated'].sort(),
        );
        for (const r of got) {
          expect(r.id).toBe(r.json.id);
          expect(Math.abs(r.timestamp - Date.now() / 1000)).toBeLessThan(60);
          const secret =
            r.json.type === 'key.deleted' && verify(deletes.secret, r)
              ? deletes.secret
              : all.secret;
          expect(verify(secret, r)).toBe(true);
          expect(r.body).not.toContain(key);
          expect(r.body).not.toContain(rolledKey);
          expect(r.body).not.toMatch(/hash|ciphertext/);
        }
        // One key.deleted to each endpoint, each signed with its own secret.
        const deleted = got.filter((r) => r.json.type === 'key.deleted');
        expect(deleted.filter((r) => verify(all.secret, r))).toHaveLength(1);
        expect(deleted.filter((r) => verify(deletes.secret, r))).toHaveLength(1);
        expect(new Set(deleted.map((r) => r.id)).size).toBe(1);

        const created = got.find((r) => r.json.type === 'key.created')!;
        expect(created.json.data).toMatchObject({
          name: 'hooked',
          accountId: owner2.accountId,
          isActive: true,
          rateLimit: { limit: 10, windowSeconds: 60, source: 'key' },
        });
        expect(Object.keys(created.json).sort()).toEqual(['createdAt', 'data', 'id', 'type']);
        const updated = got.find((r) => r.json.type === 'key.updated')!;
        expect(updated.json.data).toMatchObject({
          name: 'renamed',
          changes: { name: { before: 'hooked', after: 'renamed' } },
        });
        const rolled = got.find((r) => r.json.type === 'key.rolled')!;
        expect(rolled.json.data).toMatchObject({
          name: 'renamed',
          previous: { id: created.json.data.id },
        });
        expect(rolled.json.data.id).not.toBe(created.json.data.id);
        process.stdout.write(
          `[${provider}] webhook latency, change to receiver (ms): ${latencies.join(', ')}\n`,
        );
        expect(Math.max(...latencies)).toBeLessThan(1000);

        const deliveries = await t.http
          .get(`/1.0/webhooks/${all.id}/deliveries`)
          .set(as)
          .expect(200);
        expect(deliveries.body.deliveries).toHaveLength(4);
        expect(deliveries.body.deliveries[0]).toMatchObject({
          type: 'key.deleted',
          status: 'delivered',
          attempts: 1,
          lastResponseCode: 200,
          nextAttemptAt: null,
        });
        const page = await t.http
          .get(`/1.0/webhooks/${all.id}/deliveries?limit=3`)
          .set(as)
          .expect(200);
        expect(page.body.deliveries).toHaveLength(3);
        const rest = await t.http
          .get(
            `/1.0/webhooks/${all.id}/deliveries?limit=3&cursor=${page.body.nextCursor as string}`,
          )
          .set(as)
          .expect(200);
        expect(rest.body.deliveries.map((d: { type: string }) => d.type)).toEqual(['key.created']);
        expect(rest.body.nextCursor).toBeNull();
        await t.http.get(`/1.0/webhooks/${all.id}/deliveries?cursor=nope`).set(as).expect(400);
      });

      it('keeps a slow endpoint off the request path, with at most 8 deliveries in flight', async () => {
        const slow = new WebhookReceiver();
        await slow.listen();
        slow.delayMs = 1500;
        try {
          const owner5 = await account(t.http);
          const as = { Authorization: basic(owner5.masterKey) };
          await endpoint(['key.created'], slow.url('/slow'), owner5);
          const took: number[] = [];
          for (let i = 0; i < 12; i++) {
            const started = Date.now();
            await t.http
              .post('/1.0/keys')
              .set(as)
              .send({ name: `slow-${i}` })
              .expect(200);
            took.push(Date.now() - started);
          }
          await slow.until((r) => r.length === 12, 10_000);
          expect(slow.maxInFlight).toBe(8);
          expect(new Set(slow.received.map((r) => r.id)).size).toBe(12);
          // The key changes never waited for the 1.5 s answers.
          expect(Math.max(...took)).toBeLessThan(500);
        } finally {
          await slow.close();
        }
      });

      it('sends usage.rate_limited once for the first refusals of a key in a minute', async () => {
        const owner4 = await account(t.http);
        const as = { Authorization: basic(owner4.masterKey) };
        const hook = await endpoint(['usage.rate_limited'], receiver.url('/limited'), owner4);
        const { body } = await t.http
          .post('/1.0/keys')
          .set(as)
          .send({ name: 'limited', rateLimit: { limit: 2, windowSeconds: 60 } })
          .expect(200);
        const minuteBefore = Math.floor(Date.now() / 60_000);
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++) {
          statuses.push(
            (await t.http.get('/1.0/me').set({ 'x-api-key': body.key as string })).status,
          );
        }
        const minuteAfter = Math.floor(Date.now() / 60_000);
        expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
        const mine = () =>
          receiver
            .ofType('usage.rate_limited')
            .filter((r) => r.json.data.accountId === owner4.accountId);
        await receiver.until(() => mine().length >= 1);
        await new Promise((resolve) => setTimeout(resolve, 700));
        expect(mine()).toHaveLength(minuteAfter - minuteBefore + 1);
        const [event] = mine();
        expect(verify(hook.secret, event)).toBe(true);
        expect(event.json.data).toMatchObject({
          name: 'limited',
          code: 'RATE_LIMITED',
          rateLimit: { limit: 2, windowSeconds: 60, source: 'key' },
        });
        expect(event.body).not.toContain(body.key as string);
      });

      it('sends webhook.test to that endpoint only, and signs with both secrets for a day after a rotation', async () => {
        const owner3 = await account(t.http);
        const as = { Authorization: basic(owner3.masterKey) };
        const a = await endpoint(['key.created'], receiver.url('/a'), owner3);
        const b = await endpoint(['key.created'], receiver.url('/b'), owner3);
        const test = await t.http.post(`/1.0/webhooks/${a.id}/test`).set(as).expect(200);
        const eventId = test.body.eventId as string;
        await receiver.until((r) => r.some((x) => x.id === eventId));
        await new Promise((resolve) => setTimeout(resolve, 500));
        const tests = receiver.received.filter((x) => x.id === eventId);
        expect(tests).toHaveLength(1);
        expect(tests[0].json).toMatchObject({ type: 'webhook.test', data: { endpointId: a.id } });
        expect(verify(a.secret, tests[0])).toBe(true);
        expect(verify(b.secret, tests[0])).toBe(false);

        const rotated = await t.http
          .post(`/1.0/webhooks/${a.id}/rotate-secret`)
          .set(as)
          .expect(200);
        const secret = rotated.body.secret as string;
        expect(secret).toMatch(/^whsec_/);
        expect(secret).not.toBe(a.secret);
        expect(
          Date.parse(rotated.body.previousSecretExpiresAt as string) - Date.now(),
        ).toBeGreaterThan(23.9 * HOUR);
        const again = await t.http.post(`/1.0/webhooks/${a.id}/test`).set(as).expect(200);
        await receiver.until((r) => r.some((x) => x.id === again.body.eventId));
        const signed = receiver.received.find((x) => x.id === again.body.eventId)!;
        expect(signed.signatures).toHaveLength(2);
        expect(verify(secret, signed)).toBe(true);
        expect(verify(a.secret, signed)).toBe(true);
        const onlyNew = { ...signed, signatures: [signed.signatures[0]] };
        expect(verify(secret, onlyNew)).toBe(true);
      });
    });
  });

  describe(`webhook retries, with a controllable clock [${provider}]`, () => {
    let t: TestApp;
    let owner: TestAccount;
    let offset = 0;
    const receiver = new WebhookReceiver();
    const master = () => ({ Authorization: basic(owner.masterKey) });

    beforeAll(async () => {
      await receiver.listen();
      t = await startApp(provider, {
        env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' },
        overrides: [{ provide: WEBHOOK_CLOCK, useValue: () => Date.now() + offset }],
      });
      owner = await account(t.http);
    });
    afterAll(async () => {
      await t?.close();
      await receiver.close();
    });

    it('retries a 500 per the schedule, disables the endpoint after 24 h of failures, and audits it', async () => {
      receiver.status = 500;
      const { body: hook } = await t.http
        .post('/1.0/webhooks')
        .set(master())
        .send({ url: receiver.url('/failing'), events: ['key.created'] })
        .expect(200);
      const rotated = await t.http
        .post(`/1.0/webhooks/${hook.id as string}/rotate-secret`)
        .set(master())
        .expect(200);
      await t.http.post('/1.0/keys').set(master()).send({ name: 'k1' }).expect(200);
      await receiver.until((r) => r.length === 1);
      // Both secrets sign for a day after the rotation.
      expect(receiver.received[0].signatures).toHaveLength(2);
      expect(verify(hook.secret as string, receiver.received[0])).toBe(true);
      expect(verify(rotated.body.secret as string, receiver.received[0])).toBe(true);
      const deliveries = async () =>
        (
          await t.http
            .get(`/1.0/webhooks/${hook.id as string}/deliveries`)
            .set(master())
            .expect(200)
        ).body.deliveries as {
          id: string;
          status: string;
          attempts: number;
          lastResponseCode: number | null;
          nextAttemptAt: string | null;
          lastAttemptAt: string;
        }[];
      await waitFor(async () => (await deliveries())[0].attempts === 1);
      let [d] = await deliveries();
      expect(d).toMatchObject({ status: 'pending', attempts: 1, lastResponseCode: 500 });
      // 5 s ± 20 % after the first attempt.
      let wait = Date.parse(d.nextAttemptAt!) - Date.parse(d.lastAttemptAt);
      expect(wait).toBeGreaterThanOrEqual(4000);
      expect(wait).toBeLessThanOrEqual(6000);
      // Not before it is due.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(receiver.received).toHaveLength(1);

      offset += 6000;
      await receiver.until((r) => r.length === 2);
      await waitFor(async () => (await deliveries())[0].attempts === 2);
      [d] = await deliveries();
      wait = Date.parse(d.nextAttemptAt!) - Date.parse(d.lastAttemptAt);
      expect(wait).toBeGreaterThanOrEqual(24_000);
      expect(wait).toBeLessThanOrEqual(36_000);
      expect(receiver.received.every((r) => r.id === receiver.received[0].id)).toBe(true);

      offset += 36_000;
      await receiver.until((r) => r.length === 3);
      await waitFor(async () => (await deliveries())[0].attempts === 3);
      [d] = await deliveries();
      wait = Date.parse(d.nextAttemptAt!) - Date.parse(d.lastAttemptAt);
      expect(wait).toBeGreaterThanOrEqual(96_000);
      expect(wait).toBeLessThanOrEqual(144_000);

      // A day later: the last attempt fails too; the delivery is given up, the endpoint disabled.
      offset += 25 * HOUR;
      await receiver.until((r) => r.length === 4);
      await waitFor(async () => (await deliveries())[0].status === 'failed');
      // By then only the new secret signs.
      const last = receiver.received[3];
      expect(last.signatures).toHaveLength(1);
      expect(verify(rotated.body.secret as string, last, Infinity)).toBe(true);
      expect(verify(hook.secret as string, last, Infinity)).toBe(false);
      const endpoint = await t.http
        .get(`/1.0/webhooks/${hook.id as string}`)
        .set(master())
        .expect(200);
      expect(endpoint.body).toMatchObject({ enabled: false, previousSecretExpiresAt: null });
      const audit = await t.http
        .get('/1.0/audit?action=webhook.disabled')
        .set(master())
        .expect(200);
      expect(audit.body.entries).toHaveLength(1);
      expect(audit.body.entries[0]).toMatchObject({
        actor: { type: 'system', id: null },
        changes: {
          endpointId: { after: hook.id },
          enabled: { before: true, after: false },
        },
      });
      const metrics = await t.http.get('/metrics').expect(200);
      expect(metrics.text).toMatch(
        /keymeter_webhook_deliveries_total\{outcome="failed_attempt"\} 3/,
      );
      expect(metrics.text).toMatch(/keymeter_webhook_deliveries_total\{outcome="gave_up"\} 1/);

      // A disabled endpoint gets nothing; enabled again, a retried delivery goes through.
      await t.http.post('/1.0/keys').set(master()).send({ name: 'k2' }).expect(200);
      await t.http
        .post(`/1.0/webhooks/${hook.id as string}/deliveries/${d.id}/retry`)
        .set(master())
        .expect(409);
      receiver.status = 204;
      await t.http
        .patch(`/1.0/webhooks/${hook.id as string}`)
        .set(master())
        .send({ enabled: true })
        .expect(200);
      await t.http
        .post(`/1.0/webhooks/${hook.id as string}/deliveries/${d.id}/retry`)
        .set(master())
        .expect(200);
      await receiver.until((r) => r.length === 5);
      await waitFor(
        async () => (await deliveries()).find((x) => x.id === d.id)!.status === 'delivered',
      );
      const after = (await deliveries()).find((x) => x.id === d.id)!;
      expect(after).toMatchObject({ attempts: 5, lastResponseCode: 204, nextAttemptAt: null });
      expect(await deliveries()).toHaveLength(1);
      await t.http
        .post(`/1.0/webhooks/${hook.id as string}/deliveries/${randomUUIDish()}/retry`)
        .set(master())
        .expect(404);
    });

    it('deletes events and their deliveries once they are past WEBHOOK_RETENTION_DAYS', async () => {
      receiver.status = 204;
      const other = await account(t.http);
      const as = { Authorization: basic(other.masterKey) };
      const { body: hook } = await t.http
        .post('/1.0/webhooks')
        .set(as)
        .send({ url: receiver.url('/kept'), events: ['key.created'] })
        .expect(200);
      const send = async () => {
        const { body } = await t.http
          .post(`/1.0/webhooks/${hook.id as string}/test`)
          .set(as)
          .expect(200);
        await receiver.until((r) => r.some((x) => x.id === body.eventId));
        return body.eventId as string;
      };
      const listed = async () =>
        (
          (
            await t.http
              .get(`/1.0/webhooks/${hook.id as string}/deliveries`)
              .set(as)
              .expect(200)
          ).body.deliveries as { eventId: string; status: string }[]
        ).map((d) => d.eventId);
      const old = await send();
      offset += 29 * 24 * HOUR;
      const recent = await send();
      await waitFor(async () => (await listed()).length === 2);
      const retention = t.app.get(WebhookRetention);
      // 29 days on, both are within the 30 days kept (the earlier test's events may go).
      await retention.sweep();
      expect((await listed()).sort()).toEqual([old, recent].sort());
      offset += 2 * 24 * HOUR;
      expect(await retention.sweep()).toBeGreaterThanOrEqual(1);
      expect(await listed()).toEqual([recent]);
      expect(await retention.sweep()).toBe(0);
    });
  });

  describe(`expiry notices, with a controllable clock [${provider}]`, () => {
    let t: TestApp;
    let offset = 0;
    const receiver = new WebhookReceiver();

    beforeAll(async () => {
      await receiver.listen();
      t = await startApp(provider, {
        env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' },
        overrides: [{ provide: WEBHOOK_CLOCK, useValue: () => Date.now() + offset }],
      });
    });
    afterAll(async () => {
      await t?.close();
      await receiver.close();
    });

    it('sends key.expiring 7 days and 1 day before, and key.expired, once each', async () => {
      const owner = await account(t.http);
      const as = { Authorization: basic(owner.masterKey) };
      const { body: hook } = await t.http
        .post('/1.0/webhooks')
        .set(as)
        .send({ url: receiver.url('/expiry'), events: ['key.expiring', 'key.expired'] })
        .expect(200);
      const now = Date.now();
      const week = new Date(now + 8 * 24 * HOUR).toISOString();
      const soon = new Date(now + 12 * HOUR).toISOString();
      await t.http.post('/1.0/keys').set(as).send({ name: 'week', expiresAt: week }).expect(200);
      await t.http.post('/1.0/keys').set(as).send({ name: 'soon', expiresAt: soon }).expect(200);
      await t.http.post('/1.0/keys').set(as).send({ name: 'never' }).expect(200);
      const notices = () =>
        receiver.received.map((r) =>
          `${r.json.data.name as string} ${r.json.type} ${String(r.json.data.daysBefore ?? '')}`.trim(),
        );
      const scanTwiceAt = async (offsetMs: number, count: number) => {
        offset = offsetMs;
        const scanner = t.app.get(KeyExpiryEvents);
        await scanner.scan();
        await scanner.scan();
        await receiver.until((r) => r.length === count);
      };
      await scanTwiceAt(0, 1);
      await scanTwiceAt(13 * HOUR, 2);
      await scanTwiceAt(36 * HOUR, 3);
      await scanTwiceAt(7.5 * 24 * HOUR, 4);
      await scanTwiceAt(8.1 * 24 * HOUR, 5);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(notices()).toEqual([
        'soon key.expiring 1',
        'soon key.expired',
        'week key.expiring 7',
        'week key.expiring 1',
        'week key.expired',
      ]);
      for (const r of receiver.received)
        expect(verify(hook.secret as string, r, Infinity)).toBe(true);
      expect(receiver.received[2].json.data).toMatchObject({ expiresAt: week, daysBefore: 7 });
    });
  });

  describe(`SSRF refusals [${provider}]`, () => {
    const receiver = new WebhookReceiver();
    let dir: string;
    let databaseUrl: string;
    const env = { KEYMETER_SECRET: randomBytes(32).toString('hex') };

    beforeAll(async () => {
      await receiver.listen();
      dir = mkdtempSync(path.join(tmpdir(), 'keymeter-ssrf-'));
      databaseUrl =
        provider === 'sqlite' ? `file:${path.join(dir, 'keymeter.db')}` : await createDatabase();
    });
    afterAll(async () => {
      await receiver.close();
      if (provider === 'postgresql') await dropDatabase(databaseUrl);
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses private, loopback, link-local and metadata URLs at creation when they are not allowed', async () => {
      const t = await startApp(provider, { databaseUrl, env });
      try {
        const owner = await account(t.http);
        const as = { Authorization: basic(owner.masterKey) };
        const refused: [string, string][] = [
          ['https://127.0.0.1/hook', 'loopback'],
          ['https://[::1]/hook', 'loopback'],
          ['https://localhost/hook', 'loopback'],
          ['https://10.1.2.3/hook', 'private'],
          ['https://192.168.0.10/hook', 'private'],
          ['https://169.254.169.254/latest/meta-data', 'link-local'],
          ['https://100.64.1.1/', 'carrier-grade NAT'],
          ['https://[::ffff:127.0.0.1]/', 'loopback'],
          ['https://[fd00::1]/', 'unique local'],
          ['https://[fe80::1]/', 'link-local'],
          ['https://0.0.0.0/', 'unspecified'],
          [receiver.url(), 'must use https'],
        ];
        for (const [url, why] of refused) {
          const res = await t.http
            .post('/1.0/webhooks')
            .set(as)
            .send({ url, events: ['key.created'] });
          expect({ url, status: res.status }).toEqual({ url, status: 400 });
          expect(JSON.stringify(res.body.message)).toContain(why);
        }
        const ok = await t.http
          .post('/1.0/webhooks')
          .set(as)
          .send({ url: 'https://8.8.8.8/hook', events: ['key.created'] });
        expect(ok.status).toBe(200);
      } finally {
        await t.app.close();
      }
    });

    it('refuses at delivery a host that resolves to loopback once private URLs are no longer allowed', async () => {
      // Created while allowed; delivered by an instance where they are not.
      const url = `https://localhost:${receiver.port}/hook`;
      const allowed = await startApp(provider, {
        databaseUrl,
        env: { ...env, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' },
      });
      let owner: TestAccount;
      let hookId: string;
      try {
        owner = await account(allowed.http);
        const { body } = await allowed.http
          .post('/1.0/webhooks')
          .set({ Authorization: basic(owner.masterKey) })
          .send({ url, events: ['key.created'], description: 'loopback' })
          .expect(200);
        hookId = body.id as string;
      } finally {
        await allowed.app.close();
      }
      const t = await startApp(provider, { databaseUrl, env });
      try {
        const as = { Authorization: basic(owner.masterKey) };
        await t.http.post('/1.0/keys').set(as).send({ name: 'to-loopback' }).expect(200);
        await waitFor(async () => {
          const res = await t.http.get(`/1.0/webhooks/${hookId}/deliveries`).set(as).expect(200);
          return res.body.deliveries[0]?.attempts === 1;
        });
        const res = await t.http.get(`/1.0/webhooks/${hookId}/deliveries`).set(as).expect(200);
        expect(res.body.deliveries[0]).toMatchObject({
          status: 'pending',
          attempts: 1,
          lastResponseCode: null,
        });
        // Refused before connecting: the receiver saw no connection at all.
        expect(receiver.connections).toBe(0);
      } finally {
        await t.app.close();
      }
    });
  });
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const randomUUIDish = () => '00000000-0000-4000-8000-000000000000';
