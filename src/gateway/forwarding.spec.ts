import {
  clientResponseHeaders,
  headerSafe,
  outgoing,
  responseHead,
  upstreamPath,
  upstreamRequestHeaders,
} from './forwarding';

const FORWARDED = {
  clientAddress: '10.0.0.9',
  keyId: 'key-1',
  keyName: 'mobile app',
  accountId: 'acct-1',
  upstreamHost: 'api.internal:8081',
};

describe('upstreamRequestHeaders', () => {
  const sent = (headers: Record<string, string[]>, upgrade = false) =>
    upstreamRequestHeaders(headers, FORWARDED, { upgrade });

  it('drops the key, hop-by-hop headers and those Connection names, and keeps the rest as sent', () => {
    const out = sent({
      authorization: ['Bearer km_x'],
      'x-api-key': ['km_x'],
      connection: ['keep-alive, X-Trace-Hop'],
      'keep-alive': ['timeout=5'],
      'x-trace-hop': ['1'],
      te: ['trailers'],
      'proxy-connection': ['keep-alive'],
      accept: ['application/json'],
      'x-custom': ['one', 'two'],
      'content-length': ['12'],
    });
    expect(out).toEqual({
      accept: ['application/json'],
      'x-custom': ['one', 'two'],
      'content-length': ['12'],
      host: ['api.internal:8081'],
      'x-forwarded-for': ['10.0.0.9'],
      'x-forwarded-proto': ['http'],
      'x-keymeter-key-id': ['key-1'],
      'x-keymeter-key-name': ['mobile app'],
      'x-keymeter-account-id': ['acct-1'],
    });
  });

  it('replaces any x-keymeter-* a client sent, and appends to its X-Forwarded-For', () => {
    const out = sent({
      host: ['gateway.example:8080'],
      'x-keymeter-key-id': ['someone-else'],
      'x-keymeter-account-id': ['other'],
      'x-forwarded-for': ['203.0.113.1', '198.51.100.2'],
      'x-forwarded-proto': ['https'],
      'x-forwarded-host': ['spoofed'],
    });
    expect(out['x-keymeter-key-id']).toEqual(['key-1']);
    expect(out['x-keymeter-account-id']).toEqual(['acct-1']);
    expect(out['x-forwarded-for']).toEqual(['203.0.113.1, 198.51.100.2, 10.0.0.9']);
    expect(out['x-forwarded-proto']).toEqual(['http']);
    expect(out['x-forwarded-host']).toEqual(['gateway.example:8080']);
    expect(out.host).toEqual(['api.internal:8081']);
  });

  it('never lets Connection drop the framing headers, and sends a chunked body on chunked', () => {
    // Dropping Content-Length would send the body unframed: the upstream would read it as
    // more requests (smuggling).
    expect(
      sent({
        connection: ['keep-alive, content-length, host, x-a'],
        'content-length': ['5'],
        'x-a': ['1'],
      }),
    ).toMatchObject({ 'content-length': ['5'], host: ['api.internal:8081'] });
    const chunked = sent({ 'transfer-encoding': ['chunked'], connection: ['transfer-encoding'] });
    expect(chunked['transfer-encoding']).toEqual(['chunked']);
    expect(chunked['content-length']).toBeUndefined();
  });

  it('drops a client’s Forwarded header, as it replaces X-Forwarded-*', () => {
    expect(sent({ forwarded: ['for=1.2.3.4;proto=https'] }).forwarded).toBeUndefined();
  });

  it('keeps Connection: Upgrade and Upgrade for a WebSocket handshake only', () => {
    const handshake = { connection: ['Upgrade'], upgrade: ['websocket'] };
    expect(sent(handshake, true)).toMatchObject({
      connection: ['Upgrade'],
      upgrade: ['websocket'],
    });
    expect(sent(handshake, false).upgrade).toBeUndefined();
  });
});

describe('clientResponseHeaders', () => {
  it('drops the upstream’s hop-by-hop headers and keeps repeated ones in order', () => {
    expect(
      clientResponseHeaders({
        'set-cookie': ['a=1', 'b=2'],
        connection: ['close, X-Internal'],
        'x-internal': ['secret'],
        'transfer-encoding': ['chunked'],
        'content-type': ['text/plain'],
      }),
    ).toEqual({ 'set-cookie': ['a=1', 'b=2'], 'content-type': ['text/plain'] });
  });
});

describe('upstreamPath', () => {
  it.each([
    ['/', '/v1/users?id=1', '/v1/users?id=1'],
    ['/base', '/v1?x=%20', '/base/v1?x=%20'],
    ['/base/', '/', '/base/'],
    ['/base', '*', '/base'],
    ['/', '*', '*'],
    ['/v1', '/../admin', '/v1/admin'],
    ['/v1', '/a/%2E%2e/../admin?q=/../x', '/v1/admin?q=/../x'],
    ['/v1', '/a/./b', '/v1/a/b'],
    ['/v1', '/a..b/.c', '/v1/a..b/.c'],
    ['/v1', 'http://evil.example/x?y=1', '/v1/x?y=1'],
  ])('base %s + %s is %s', (base, target, expected) => {
    expect(upstreamPath(base, target)).toBe(expected);
  });
});

describe('headerSafe and outgoing', () => {
  it('sends plain names as they are and percent-encodes the others', () => {
    expect(headerSafe('mobile app')).toBe('mobile app');
    expect(headerSafe('café ☕')).toBe('caf%C3%A9%20%E2%98%95');
    expect(decodeURIComponent(headerSafe('line\nbreak'))).toBe('line\nbreak');
    expect(headerSafe(' padded')).toBe('%20padded');
    // A name with % in it is encoded too, so that decoding any sent name gives it back.
    expect(headerSafe('a%20b')).toBe('a%2520b');
  });

  it('gives single values as strings and repeated ones as arrays', () => {
    expect(outgoing({ host: ['a'], 'set-cookie': ['x', 'y'], gone: undefined })).toEqual({
      host: 'a',
      'set-cookie': ['x', 'y'],
    });
  });

  it('writes a raw response head', () => {
    expect(responseHead(502, 'Bad Gateway', { 'content-length': ['2'], a: ['1', '2'] })).toBe(
      'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 2\r\na: 1\r\na: 2\r\n\r\n',
    );
  });
});
