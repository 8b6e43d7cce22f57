import fc from 'fast-check';
import { weakETag } from './etag';

// Express's own generator (what app.set('etag', 'weak'), the default, installs).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { wetag } = require('express/lib/utils') as {
  wetag: (body: Buffer | string, encoding?: BufferEncoding) => string;
};

describe(weakETag.name, () => {
  it("is Express's default weak ETag for any body", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (data) => {
        const body = Buffer.from(data);
        expect(weakETag(body)).toBe(wetag(body));
      }),
    );
  });

  it("is Express's for strings in their encoding, and for the empty body", () => {
    for (const text of ['', '{"ok":true}', 'héllo wörld ✓', 'x'.repeat(100_000)]) {
      expect(weakETag(text, 'utf8')).toBe(wetag(text, 'utf8'));
      expect(weakETag(text, 'latin1')).toBe(wetag(text, 'latin1'));
    }
    expect(weakETag(Buffer.alloc(0))).toBe('W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"');
  });
});
