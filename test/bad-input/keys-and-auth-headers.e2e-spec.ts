import { randomUUID } from 'node:crypto';
import { KeyVault } from '../../src/common/crypto/key-vault.service';
import { describeEachDatabase } from '../helpers/app';
import { basic } from '../helpers/factory';
import {
  badInputFixture,
  Call,
  expectRefused,
  flipChecksum,
  outcome,
  refusal,
} from '../helpers/bad-input';

/**
 * Section "Keys and auth headers" of docs/bad-input.md (K01–K14): the credentials every keyed
 * route refuses.
 */
describeEachDatabase('bad input', (ctx) => {
  const given = badInputFixture(ctx);
  const { http, master, credentials, createKey, keyRoutes } = given;

  /** Every route that needs the master key, with a body that would be valid for it. */
  const masterRoutes = (headers: Record<string, string>): Call[] => [
    { method: 'get', path: '/1.0/keys', headers },
    { method: 'post', path: '/1.0/keys', headers, body: { name: `new ${randomUUID()}` } },
    ...keyRoutes(given.child.id, headers),
    { method: 'post', path: '/1.0/verify', headers, body: { key: given.child.key } },
  ];

  /** Every route that authenticates with a key. */
  const keyedRoutes = (headers: Record<string, string>): Call[] => [
    ...masterRoutes(headers),
    { method: 'get', path: '/1.0/me', headers },
    { method: 'get', path: '/1.0/me/usage', headers },
  ];

  describe('keys and auth headers', () => {
    const everywhere = (headers: Record<string, string>) => keyedRoutes(headers);

    it('refuses a request without a key with 401 and says how to send one (K01)', async () => {
      await expectRefused(http(), everywhere({}), 401, /an API key is required/);
    });

    it('refuses malformed keys and wrong checksums with 401 (K02)', async () => {
      for (const key of [
        'km_short',
        'not a key',
        flipChecksum(given.owner.masterKey),
        'x'.repeat(49),
      ]) {
        await expectRefused(
          http(),
          everywhere({ 'x-api-key': key }),
          401,
          /the API key is malformed or its checksum is wrong/,
        );
      }
    });

    it('refuses a well-formed key that does not exist with 401 (K03)', async () => {
      const stranger = ctx().app.get(KeyVault).create().key;
      await expectRefused(
        http(),
        everywhere({ Authorization: `Bearer ${stranger}` }),
        401,
        /the API key is not valid/,
      );
    });

    it('refuses empty credentials with 401 (K04)', async () => {
      await expectRefused(
        http(),
        everywhere({ 'x-api-key': '' }),
        401,
        /x-api-key header is empty/,
      );
      await expectRefused(
        http(),
        everywhere({ Authorization: '' }),
        401,
        /use Authorization: Basic base64\(KEY:\) or Authorization: Bearer KEY/,
      );
      await expectRefused(
        http(),
        everywhere({ Authorization: basic('') }),
        401,
        /send the API key as the Basic user name/,
      );
    });

    it('refuses 8 KB auth headers with 401 before any lookup (K05)', async () => {
      const huge = 'a'.repeat(8 * 1024);
      await expectRefused(
        http(),
        everywhere({ Authorization: `Bearer ${huge}` }),
        401,
        /the Authorization header is too long/,
      );
      await expectRefused(
        http(),
        everywhere({ 'x-api-key': huge }),
        401,
        /the x-api-key header is too long/,
      );
    });

    it('refuses unsupported Authorization schemes with 401 (K06)', async () => {
      for (const scheme of ['Digest', 'Token', 'ApiKey', 'Negotiate']) {
        await expectRefused(
          http(),
          masterRoutes({ Authorization: `${scheme} ${given.owner.masterKey}` }),
          401,
          /unsupported Authorization scheme; use Basic or Bearer/,
        );
      }
      await expectRefused(
        http(),
        masterRoutes({ Authorization: given.owner.masterKey }),
        401,
        /use Authorization: Basic base64\(KEY:\) or Authorization: Bearer KEY/,
      );
    });

    it('refuses Basic credentials that are not base64 with 401 (K07)', async () => {
      for (const token of ['!!!', 'abc', 'a=b=', '%%%%', 'ZZZ==Z']) {
        await expectRefused(
          http(),
          masterRoutes({ Authorization: `Basic ${token}` }),
          401,
          /the Basic credentials are not valid base64/,
        );
      }
    });

    it('refuses two different keys in Authorization and x-api-key with 401 (K08)', async () => {
      await expectRefused(
        http(),
        masterRoutes({ Authorization: basic(given.owner.masterKey), 'x-api-key': given.child.key }),
        401,
        /carry different keys/,
      );
    });

    it('refuses two x-api-key headers with 401 and asks for one (K09)', async () => {
      const res = await http()
        .get('/1.0/keys')
        .set('x-api-key', [given.owner.masterKey, given.owner.masterKey] as unknown as string);
      expect(outcome('GET /1.0/keys', res)).toEqual(
        refusal('GET /1.0/keys', 401, /send one Authorization or x-api-key header, not several/),
      );
    });

    it('refuses a deactivated key with 401 and verify calls it DISABLED (K10)', async () => {
      const paused = await createKey(given.owner, 'paused');
      await http()
        .patch(`/1.0/keys/${paused.id}`)
        .set(master())
        .send({ isActive: false })
        .expect(200);
      await expectRefused(
        http(),
        [
          { method: 'get', path: '/1.0/me', headers: { 'x-api-key': paused.key } },
          { method: 'get', path: '/1.0/me/usage', headers: { Authorization: basic(paused.key) } },
          { method: 'get', path: '/1.0/keys', headers: { Authorization: `Bearer ${paused.key}` } },
        ],
        401,
        /the API key is deactivated/,
      );
      const verified = await http().post('/1.0/verify').set(master()).send({ key: paused.key });
      expect(verified.body).toMatchObject({ valid: false, code: 'DISABLED' });
    });

    it('refuses a deleted key with 401 and answers its id and key with 404 (K11)', async () => {
      const gone = await createKey(given.owner, 'gone');
      await http().delete(`/1.0/keys/${gone.id}`).set(master()).expect(200);
      await expectRefused(
        http(),
        [
          { method: 'get', path: '/1.0/me', headers: { 'x-api-key': gone.key } },
          { method: 'get', path: '/1.0/me/usage', headers: { 'x-api-key': gone.key } },
        ],
        401,
        /the API key is not valid/,
      );
      await expectRefused(
        http(),
        [...keyRoutes(gone.id), ...keyRoutes(gone.key)],
        404,
        /no such API key/,
      );
    });

    it('answers another account’s keys and ids with 404 on every route that takes one (K12)', async () => {
      await expectRefused(
        http(),
        [
          ...keyRoutes(given.otherChild.key),
          ...keyRoutes(given.otherChild.id),
          ...keyRoutes(given.other.masterKeyId),
          ...keyRoutes(given.other.masterKey),
          {
            method: 'post',
            path: '/api/v1/keys/usageAnalytics',
            body: { ...credentials(), apiKeyId: given.otherChild.id },
          },
        ],
        404,
        /no such API key/,
      );
      // Nothing was changed on the other account's side.
      const theirs = await http()
        .get('/1.0/keys')
        .set('Authorization', basic(given.other.masterKey))
        .expect(200);
      expect(theirs.body.keys).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: given.otherChild.id, name: 'other child', isActive: true }),
        ]),
      );
    });

    it('refuses a valid non-master key on every master route with 403 (K13)', async () => {
      const styles: Record<string, string>[] = [
        { Authorization: basic(given.child.key) },
        { Authorization: `Bearer ${given.child.key}` },
        { 'x-api-key': given.child.key },
      ];
      for (const headers of styles) {
        await expectRefused(
          http(),
          masterRoutes(headers),
          403,
          /this route needs the account master key/,
        );
      }
    });

    it('refuses to deactivate or delete the master key with 400 (K14)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'patch',
            path: `/1.0/keys/${given.owner.masterKeyId}`,
            headers: master(),
            body: { isActive: false },
          },
        ],
        400,
        /the master key cannot be deactivated/,
      );
      await expectRefused(
        http(),
        [{ method: 'delete', path: `/1.0/keys/${given.owner.masterKey}`, headers: master() }],
        400,
        /the master key cannot be deleted/,
      );
    });
  });
});
