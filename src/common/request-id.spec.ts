import { requestIdFor } from './request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFor', () => {
  it.each(['3f2b6c1e-8d2a-4c3e-9a51-0b7c6d5e4f30', '01HZX3K9V4', 'svc-42/7', 'a', 'x'.repeat(128)])(
    'keeps the sane id %s',
    (id) => {
      expect(requestIdFor(id)).toBe(id);
    },
  );

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['too long', 'x'.repeat(129)],
    ['with a space', 'a b'],
    ['with a quote', 'a"b'],
    ['with a newline', 'a\nb'],
    ['with a comma (two headers joined)', 'a,b'],
    ['sent twice', ['a', 'b']],
  ])('replaces an id that is %s with a new UUID', (_, header) => {
    const id = requestIdFor(header as string | string[] | undefined);
    expect(id).toMatch(UUID);
    expect(requestIdFor(header as string | string[] | undefined)).not.toBe(id);
  });
});
