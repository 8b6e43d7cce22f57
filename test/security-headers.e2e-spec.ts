import { KeyVault } from '../src/common/crypto/key-vault.service';
import { KeyAccessRepository } from '../src/access/key-access.repository';
import { KeysService } from '../src/keys/keys.service';
import { startApp, TestApp } from './helpers/app';

describe('security headers and CORS', () => {
  let closed: TestApp;
  let open: TestApp;
  beforeAll(async () => {
    closed = await startApp('sqlite');
    open = await startApp('sqlite', { env: { CORS_ORIGINS: 'https://app.example.com' } });
  });
  afterAll(async () => {
    await closed?.close();
    await open?.close();
  });

  it('sends helmet security headers on API responses and errors', async () => {
    for (const res of [await closed.http.get('/health'), await closed.http.get('/1.0/keys')]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('keeps CORS closed unless CORS_ORIGINS is configured', async () => {
    const preflight = await closed.http
      .options('/1.0/keys')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const simple = await closed.http.get('/health').set('Origin', 'https://evil.example');
    expect(simple.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows exactly the configured origins, without credentials', async () => {
    const allowed = await open.http
      .options('/1.0/keys')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'x-api-key, content-type');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
    const other = await open.http.get('/health').set('Origin', 'https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses a flood of malformed and unknown keys with at most one lookup per unknown key', async () => {
    const repository = closed.app.get(KeyAccessRepository);
    const lookups = jest.spyOn(repository, 'findByHash');
    try {
      const { key } = closed.app.get(KeysService).newKey('never stored');
      const badChecksum = key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');
      const started = Date.now();
      for (let i = 0; i < 100; i++) {
        for (const candidate of ['km_short', badChecksum, `km_${'x'.repeat(46)}`]) {
          await closed.http.get('/1.0/me').set('x-api-key', candidate).expect(401);
        }
        await closed.http.get('/1.0/me').set('x-api-key', key).expect(401);
      }
      // Malformed keys and bad checksums never reach the database; the well-formed unknown
      // key is looked up once per second at most: the negative cache answers the rest.
      const seconds = Math.ceil((Date.now() - started) / 1000);
      expect(lookups.mock.calls.length).toBeLessThanOrEqual(seconds + 1);
      const unknownHash = closed.app.get(KeyVault).hash(key);
      expect(lookups.mock.calls.length).toBeGreaterThanOrEqual(1);
      for (const [hash] of lookups.mock.calls) expect(hash).toBe(unknownHash);
    } finally {
      lookups.mockRestore();
    }
  });
});
