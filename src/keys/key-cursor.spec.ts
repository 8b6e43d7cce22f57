import { decodeKeyCursor, encodeKeyCursor, KeyPagingError, parseKeyPaging } from './key-cursor';

const ID = '6f1c2a4e-8b7d-4c39-9a51-0e2f3d4c5b6a';

describe('key cursors', () => {
  it('decodes what it encodes', () => {
    const cursor = { createdAt: new Date('2026-12-03T10:00:00.123Z'), id: ID };
    const text = encodeKeyCursor(cursor);

    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeKeyCursor(text)).toEqual(cursor);
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['no separator', Buffer.from('123').toString('base64url')],
    ['no time', Buffer.from(`.${ID}`).toString('base64url')],
    ['a bad time', Buffer.from(`12x.${ID}`).toString('base64url')],
    ['a negative time', Buffer.from(`-5.${ID}`).toString('base64url')],
    ['a bad id', Buffer.from('123.not-a-uuid').toString('base64url')],
    ['an upper-case id', Buffer.from(`123.${ID.toUpperCase()}`).toString('base64url')],
    ['too long', 'a'.repeat(101)],
  ])('refuses a cursor that is %s', (_, text) => {
    expect(decodeKeyCursor(text)).toBeNull();
  });
});

describe(parseKeyPaging.name, () => {
  it('reads a limit and a cursor, each optional', () => {
    const cursor = { createdAt: new Date(5), id: ID };
    expect(parseKeyPaging(undefined, undefined)).toEqual({ limit: undefined, after: null });
    expect(parseKeyPaging('100000', encodeKeyCursor(cursor))).toEqual({
      limit: 100_000,
      after: cursor,
    });
  });

  it.each([
    ['0', 'limit must be at least 1'],
    ['100001', 'limit must be at most 100000'],
    ['2.5', 'limit must be a whole number of keys'],
    ['-1', 'limit must be a whole number of keys'],
    ['1,2', 'limit must be a whole number of keys'],
    ['', 'limit must be a whole number of keys'],
  ])('refuses the limit %j', (limit, message) => {
    expect(() => parseKeyPaging(limit, undefined)).toThrow(new KeyPagingError(message));
  });

  it('refuses a cursor it did not make', () => {
    expect(() => parseKeyPaging(undefined, 'nope')).toThrow(
      'cursor must be a nextCursor this API returned',
    );
  });
});
