import { randomUUID } from 'node:crypto';
import { describeEachDatabase } from '../helpers/app';
import { badInputFixture, Call, expectRefused } from '../helpers/bad-input';

/**
 * Section "Accounts and passwords" of docs/bad-input.md (A01–A06): `POST /api/v1/auth/register`
 * and the Radar routes.
 */
describeEachDatabase('bad input', (ctx) => {
  const given = badInputFixture(ctx);
  const { http, credentials } = given;

  describe('accounts and passwords', () => {
    const register = (body: unknown): Call => ({
      method: 'post',
      path: '/api/v1/auth/register',
      body,
    });

    it.each([
      ['no at sign', 'nope'],
      ['an empty string', ''],
      ['no domain', 'someone@'],
      ['no local part', '@example.com'],
      ['spaces inside', 'some one@example.com'],
      ['a number', 42],
      ['null', null],
      ['over 254 characters', `${'e'.repeat(250)}@example.com`],
    ])('refuses an email with %s with 400 (A01)', async (_, email) => {
      await expectRefused(
        http(),
        [
          register({ email, password: 'long enough password' }),
          {
            method: 'post',
            path: '/api/v1/keys/getApiKeys',
            body: { email, password: 'x'.repeat(9) },
          },
        ],
        400,
        /email must be a valid email address|email must be shorter/,
      );
    });

    it('refuses an email that is not valid Unicode with 400 (A02)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'post',
            path: '/api/v1/auth/register',
            headers: { 'Content-Type': 'application/json' },
            body: '{"email":"half\\ud800@example.com","password":"long enough password"}',
          },
        ],
        400,
        /email/,
      );
    });

    it.each([
      ['7 characters', 'x'.repeat(7), /password must be longer than or equal to 8 characters/],
      ['257 characters', 'x'.repeat(257), /password must be shorter than or equal to 256/],
      ['a number', 12345678, /password must be a string/],
      ['missing', undefined, /password must be a string/],
    ])('refuses a password of %s with 400 (A03)', async (_, password, says) => {
      await expectRefused(
        http(),
        [register({ email: `new-${randomUUID()}@example.com`, password })],
        400,
        says,
      );
    });

    it('refuses a duplicate account, whatever the case or blanks of the email, with 409 (A04)', async () => {
      await expectRefused(
        http(),
        [
          register({ email: given.owner.email, password: 'another password' }),
          register({ email: given.owner.email.toUpperCase(), password: 'another password' }),
          register({ email: `  ${given.owner.email} `, password: 'another password' }),
        ],
        409,
        /an account with this email already exists/,
      );
    });

    it('refuses a wrong password and an unknown email alike with 401 (A05)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'post',
            path: '/api/v1/keys/getApiKeys',
            body: { email: given.owner.email, password: 'wrong password' },
          },
          {
            method: 'post',
            path: '/api/v1/keys/usageAnalytics',
            body: { email: `nobody-${randomUUID()}@example.com`, password: 'wrong password' },
          },
        ],
        401,
        /wrong email or password/,
      );
    });

    it('refuses an apiKeyId that is not a uuid with 400 (A06)', async () => {
      await expectRefused(
        http(),
        [
          {
            method: 'post',
            path: '/api/v1/keys/usageAnalytics',
            body: { ...credentials(), apiKeyId: given.child.key },
          },
        ],
        400,
        /apiKeyId must be a key id \(uuid\)/,
      );
    });
  });
});
