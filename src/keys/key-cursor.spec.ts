import { decodeKeyCursor, encodeKeyCursor } from './key-cursor';

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
