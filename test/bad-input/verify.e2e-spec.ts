import { KeyVault } from '../../src/common/crypto/key-vault.service';
import { UsageMeter } from '../../src/usage/usage-meter.service';
import { describeEachDatabase, startApp } from '../helpers/app';
import { account, basic } from '../helpers/factory';
import { badInputFixture, Call, expectRefused, flipChecksum, send } from '../helpers/bad-input';

/** Section "Verify" of docs/bad-input.md (V01–V04): `POST /1.0/verify`. */
describeEachDatabase('bad input', (ctx) => {
  const given = badInputFixture(ctx);
  const { http, master } = given;

  describe('verify', () => {
    const verify = (body: unknown): Call => ({
      method: 'post',
      path: '/1.0/verify',
      headers: master(),
      body,
    });

    it.each([
      ['negative', -1, /volume must not be negative/],
      ['fractional', 1.5, /volume must be a whole number of bytes/],
      ['a string', '10', /volume must be a whole number of bytes/],
      ['null', null, /volume must be a whole number of bytes/],
      ['above 1 TiB', 2 ** 40 + 1, /volume must be at most 1099511627776 bytes/],
      ['above 2^53', 2 ** 53, /volume must be at most/],
      ['1e300', 1e300, /volume must be at most/],
    ])('refuses a volume that is %s with 400 (V01)', async (_, volume, says) => {
      await expectRefused(http(), [verify({ key: given.child.key, volume })], 400, says);
    });

    it('refuses a key that is not a string or is over 512 characters with 400 (V02)', async () => {
      await expectRefused(http(), [verify({ key: 42 }), verify({})], 400, /key must be a string/);
      await expectRefused(
        http(),
        [verify({ key: 'k'.repeat(513) })],
        400,
        /key must be shorter than or equal to 512 characters/,
      );
    });

    it('answers malformed, unknown and other accounts’ keys with valid=false, NOT_FOUND (V03)', async () => {
      for (const key of [
        'km_short',
        flipChecksum(given.child.key),
        ctx().app.get(KeyVault).create().key,
        given.otherChild.key,
      ]) {
        const res = await send(http(), verify({ key }));
        expect({ status: res.status, body: res.body }).toEqual({
          status: 200,
          body: { success: true, valid: false, code: 'NOT_FOUND', keyId: null, name: null },
        });
      }
    });

    it('keeps metering every account after absurd but accepted volumes (V04)', async () => {
      // A separate app: the one under test must not be left with usage it cannot write.
      const own = await startApp(ctx().provider);
      try {
        const payer = await account(own.http);
        const bystander = await account(own.http);
        const headers = { Authorization: basic(payer.masterKey) };
        for (let i = 0; i < 2; i++) {
          const res = await own.http
            .post('/1.0/verify')
            .set(headers)
            .send({ key: payer.masterKey, volume: Number.MAX_SAFE_INTEGER });
          expect([200, 400]).toContain(res.status);
        }
        await own.http.get('/1.0/me').set('Authorization', basic(bystander.masterKey)).expect(200);
        const meter = own.app.get(UsageMeter);
        await meter.flush();
        // Written means nothing is left in memory for the key: one poisoned total must not keep
        // another account's usage out of the database.
        expect(meter.unflushed(bystander.masterKeyId)).toBeNull();
        expect(meter.unflushed(payer.masterKeyId)).toBeNull();
        const listed = await own.http.get('/1.0/keys').set(headers).expect(200);
        const volume = (listed.body.keys as { volume: number }[])[0].volume;
        expect(Number.isSafeInteger(volume)).toBe(true);
      } finally {
        await own.close();
      }
    });
  });
});
