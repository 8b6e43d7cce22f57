import type { IncomingHttpHeaders } from 'node:http';
import { extractKey } from './credentials';

const KEY = 'km_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN012345';
const OTHER_KEY = 'km_ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponm543210';
const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** Asserts an error was returned and gives back its message. */
function errorOf(headers: IncomingHttpHeaders, rawHeaders?: string[]): string {
  const result = extractKey(headers, rawHeaders);
  expect(result).toEqual({ error: expect.any(String) });
  return (result as { error: string }).error;
}

describe(extractKey.name, () => {
  describe('with no credential', () => {
    it('returns null when neither Authorization nor x-api-key is sent', () => {
      expect(extractKey({})).toBeNull();
      expect(extractKey({ 'content-type': 'application/json', cookie: 'a=b' })).toBeNull();
    });
  });

  describe('with Authorization: Basic', () => {
    it('returns the user name of base64(KEY:) as the key', () => {
      expect(extractKey({ authorization: `Basic ${base64(`${KEY}:`)}` })).toEqual({ key: KEY });
    });

    it('ignores a password after the colon', () => {
      expect(extractKey({ authorization: `Basic ${base64(`${KEY}:secret`)}` })).toEqual({
        key: KEY,
      });
    });

    it('returns the whole decoded value as the key when there is no colon', () => {
      expect(extractKey({ authorization: `Basic ${base64(KEY)}` })).toEqual({ key: KEY });
    });

    it('returns an error when the credentials are not valid base64', () => {
      expect(errorOf({ authorization: 'Basic not*base64!' })).toMatch(/not valid base64/);
      expect(errorOf({ authorization: 'Basic abc' })).toMatch(/not valid base64/);
      expect(errorOf({ authorization: 'Basic a===' })).toMatch(/not valid base64/);
    });

    it('returns an error when the user name is empty', () => {
      expect(errorOf({ authorization: `Basic ${base64(':password')}` })).toMatch(/user name/);
      expect(errorOf({ authorization: `Basic ${base64(':')}` })).toMatch(/user name/);
    });
  });

  describe('with Authorization: Bearer', () => {
    it('returns the token as the key', () => {
      expect(extractKey({ authorization: `Bearer ${KEY}` })).toEqual({ key: KEY });
    });

    it('tolerates blanks around the scheme and token', () => {
      expect(extractKey({ authorization: `  Bearer   ${KEY}  ` })).toEqual({ key: KEY });
    });

    it('returns an error when the token is missing', () => {
      expect(errorOf({ authorization: 'Bearer' })).toMatch(/Basic .* Bearer/);
      expect(errorOf({ authorization: 'Bearer ' })).toMatch(/Basic .* Bearer/);
    });

    it('returns an error when the token contains a blank', () => {
      expect(errorOf({ authorization: `Bearer ${KEY} extra` })).toMatch(/Basic .* Bearer/);
    });
  });

  describe('with any Authorization scheme', () => {
    it.each(['bearer', 'BEARER', 'bEaReR'])('reads the Bearer scheme written as %s', (scheme) => {
      expect(extractKey({ authorization: `${scheme} ${KEY}` })).toEqual({ key: KEY });
    });

    it.each(['basic', 'BASIC', 'bAsIc'])('reads the Basic scheme written as %s', (scheme) => {
      expect(extractKey({ authorization: `${scheme} ${base64(`${KEY}:`)}` })).toEqual({
        key: KEY,
      });
    });

    it.each(['Digest', 'Token', 'ApiKey'])(
      'returns an error for the unknown scheme %s',
      (scheme) => {
        expect(errorOf({ authorization: `${scheme} ${KEY}` })).toMatch(/unsupported .* scheme/);
      },
    );

    it('returns an error for a header longer than 512 characters', () => {
      const oversized = `Bearer ${'a'.repeat(506)}`;

      expect(oversized).toHaveLength(513);
      expect(errorOf({ authorization: oversized })).toMatch(/too long/);
    });

    it('accepts a header of exactly 512 characters', () => {
      const token = 'a'.repeat(505);

      expect(extractKey({ authorization: `Bearer ${token}` })).toEqual({ key: token });
    });

    it('returns an error for an empty header', () => {
      expect(errorOf({ authorization: '' })).toMatch(/Basic .* Bearer/);
    });

    it('returns the repeated-header error when the raw headers hold it twice, in any case', () => {
      // Node keeps the first Authorization in `headers`; only rawHeaders shows the second.
      const headers = { authorization: `Bearer ${KEY}` };
      const raw = ['Authorization', `Bearer ${KEY}`, 'Host', 'x', 'authorization', OTHER_KEY];

      expect(errorOf(headers, raw)).toBe(errorOf({ 'x-api-key': [KEY, KEY] } as never));
      expect(errorOf(headers, raw)).toMatch(/send one Authorization or x-api-key header/);
    });

    it('reads one Authorization among other raw headers as usual', () => {
      const raw = ['Host', 'x', 'AUTHORIZATION', `Bearer ${KEY}`, 'x-authorization', 'y'];

      expect(extractKey({ authorization: `Bearer ${KEY}` }, raw)).toEqual({ key: KEY });
    });
  });

  describe('with x-api-key', () => {
    it('returns the header value as the key', () => {
      expect(extractKey({ 'x-api-key': KEY })).toEqual({ key: KEY });
    });

    it('trims blanks around the value', () => {
      expect(extractKey({ 'x-api-key': `  ${KEY}\t ` })).toEqual({ key: KEY });
    });

    it('returns an error when the value is empty or blank', () => {
      expect(errorOf({ 'x-api-key': '' })).toMatch(/empty/);
      expect(errorOf({ 'x-api-key': '   ' })).toMatch(/empty/);
    });

    it('returns an error when the header is sent more than once', () => {
      const headers = { 'x-api-key': [KEY, KEY] } as unknown as IncomingHttpHeaders;

      expect(errorOf(headers)).toMatch(/send one Authorization or x-api-key header/);
    });

    it('returns an error for an oversized value', () => {
      expect(errorOf({ 'x-api-key': 'a'.repeat(513) })).toMatch(/too long/);
      expect(extractKey({ 'x-api-key': 'a'.repeat(512) })).toEqual({ key: 'a'.repeat(512) });
    });
  });

  describe('with both Authorization and x-api-key', () => {
    it('returns the key when both carry the same key', () => {
      expect(extractKey({ authorization: `Bearer ${KEY}`, 'x-api-key': KEY })).toEqual({
        key: KEY,
      });
      expect(
        extractKey({ authorization: `Basic ${base64(`${KEY}:`)}`, 'x-api-key': ` ${KEY} ` }),
      ).toEqual({ key: KEY });
    });

    it('returns an error when they carry different keys', () => {
      expect(errorOf({ authorization: `Bearer ${KEY}`, 'x-api-key': OTHER_KEY })).toMatch(
        /different keys/,
      );
    });

    it('returns the Authorization error when Authorization is malformed', () => {
      expect(errorOf({ authorization: `Digest ${KEY}`, 'x-api-key': KEY })).toMatch(
        /unsupported .* scheme/,
      );
    });

    it('returns the x-api-key error when x-api-key is empty', () => {
      expect(errorOf({ authorization: `Bearer ${KEY}`, 'x-api-key': '' })).toMatch(/empty/);
    });
  });
});
