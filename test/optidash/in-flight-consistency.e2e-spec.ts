import { KeyVault } from '../../src/common/crypto/key-vault.service';
import { KeyAccessRepository } from '../../src/access/key-access.repository';
import { UsageMeter } from '../../src/usage/usage-meter.service';
import { UsageRepository } from '../../src/usage/usage.repository';
import { describeEachDatabase } from '../helpers/app';
import { account } from '../helpers/factory';
import {
  auth,
  call,
  createKey,
  expectEnvelope,
  injectUsage,
  Method,
} from '../helpers/optidash-fixtures';

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

/** Key changes and usage reads that race a lookup or a flush already in flight. */
describeEachDatabase('the Optidash-compatible API', (ctx) => {
  describe('consistency while other work is in flight', () => {
    const changes: [string, Method, object | undefined][] = [
      ['deactivated', 'patch', { isActive: false }],
      ['deleted', 'delete', undefined],
    ];
    for (const [what, method, body] of changes) {
      it(`refuses a key ${what} while a lookup of it was in flight on the very next request`, async () => {
        const { http, app } = ctx();
        const owner = await account(http);
        const key = await createKey(http, owner.masterKey, `raced ${what}`);
        const hash = app.get(KeyVault).hash(key.key);
        const repository = app.get(KeyAccessRepository);
        const findByHash = repository.findByHash.bind(repository);
        const loaded = signal();
        const release = signal();
        let held = false;
        // The guard's cache miss reads the key (still active), then answers only after the change.
        const spy = jest.spyOn(repository, 'findByHash').mockImplementation(async (h) => {
          const row = await findByHash(h);
          if (h === hash && !held) {
            held = true;
            loaded.fire();
            await release.promise;
          }
          return row;
        });
        try {
          const inFlight = http
            .get('/1.0/me')
            .set(auth(key.key))
            .then((res) => res);
          await loaded.promise;
          await call(http, method, `/1.0/keys/${key.id}`, auth(owner.masterKey), body).expect(200);
          release.fire();
          await inFlight;
          const next = await http.get('/1.0/me').set(auth(key.key));
          expect(next.status).toBe(401);
          expectEnvelope(next.body, 401);
        } finally {
          release.fire();
          spy.mockRestore();
        }
      });
    }

    it('counts usage once when it is read while the flush that writes it is committing', async () => {
      const { http, app } = ctx();
      const owner = await account(http);
      const key = await createKey(http, owner.masterKey, 'read during flush');
      const repository = app.get(UsageRepository);
      const addUsage = repository.addUsage.bind(repository);
      const committed = signal();
      const release = signal();
      // Widens the window between the database committing and the meter learning that it did.
      const spy = jest.spyOn(repository, 'addUsage').mockImplementation(async (batch) => {
        await addUsage(batch);
        if (batch.has(key.id)) {
          committed.fire();
          await release.promise;
        }
      });
      try {
        app.get(UsageMeter).record(key.id, 500, Date.parse('2021-06-01T10:00:00Z'));
        const writing = injectUsage(app, key.id, []);
        await committed.promise;
        // Both reads arrive while the batch is committed but the meter still holds it; they
        // must wait for the flush to finish rather than count the batch twice.
        const reading = Promise.all([
          http
            .get(`/1.0/keys/${key.key}?from=2021-06-01&to=2021-06-01T23:59:59`)
            .set(auth(owner.masterKey))
            .then((res) => res),
          http
            .get('/1.0/keys')
            .set(auth(owner.masterKey))
            .then((res) => res),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        release.fire();
        await writing;
        const [usage, list] = await reading;
        expect(usage.status).toBe(200);
        expect(list.status).toBe(200);
        expect(usage.body.results).toEqual([
          { bucket: '2021-06-01T00:00:00.000Z', volume: 500, count: 1 },
        ]);
        expect(list.body.keys[1]).toMatchObject({ id: key.id, usageCount: 1, volume: 500 });
      } finally {
        release.fire();
        spy.mockRestore();
      }
    });
  });
});
