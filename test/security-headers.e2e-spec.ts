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
});
