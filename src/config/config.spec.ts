import path from 'node:path';
import { AppConfig, ConfigError, EnvironmentVariables, loadConfig } from './config';

const HEX_SECRET = 'ab'.repeat(32);
const BASE64_SECRET = Buffer.alloc(32, 5).toString('base64');

/** Runs loadConfig, expecting a ConfigError, and returns its message. */
function configError(env: NodeJS.ProcessEnv): string {
  let thrown: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return (thrown as ConfigError).message;
}

describe(loadConfig.name, () => {
  describe('with an empty environment', () => {
    let config: AppConfig;

    beforeAll(() => {
      config = loadConfig({});
    });

    it('listens on 0.0.0.0:3000', () => {
      expect(config.port).toBe(3000);
      expect(config.host).toBe('0.0.0.0');
    });

    it('uses SQLite at an absolute path ending in data/keymeter.db', () => {
      expect(config.database.provider).toBe('sqlite');
      const file = (config.database as { file: string }).file;
      expect(path.isAbsolute(file)).toBe(true);
      expect(file.endsWith(path.join('data', 'keymeter.db'))).toBe(true);
      expect(file).toBe(path.resolve('data', 'keymeter.db'));
    });

    it('applies the documented defaults to every other setting', () => {
      expect(config).toMatchObject({
        port: 3000,
        host: '0.0.0.0',
        database: { provider: 'sqlite', file: path.resolve('data', 'keymeter.db') },
        dataDir: 'data',
        secret: undefined,
        keyStorage: 'encrypted',
        keyPrefix: 'km_',
        usageFlushIntervalMs: 1000,
        bodyLimit: '1mb',
        logLevel: 'log',
        migrateOnStart: true,
        webhookRetentionDays: 30,
      });
    });
  });

  it('reads process.env when called without an argument', () => {
    const saved = process.env.PORT;
    process.env.PORT = '4321';
    try {
      expect(loadConfig().port).toBe(4321);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  it('treats empty strings as unset', () => {
    const names = [...Object.keys(new EnvironmentVariables()), 'DATABASE_URL', 'KEYMETER_SECRET'];
    const config = loadConfig(Object.fromEntries(names.map((name) => [name, ''])));

    expect(names).toEqual(expect.arrayContaining(['PORT', 'KEY_STORAGE', 'BODY_LIMIT']));
    expect(config).toEqual(loadConfig({}));
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ PATH: '/bin', NODE_ENV: 'production', UNRELATED: 'x' })).toEqual(
      loadConfig({}),
    );
  });

  it('reads every variable when they are valid', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATA_DIR: '/var/lib/keymeter',
      KEYMETER_SECRET: HEX_SECRET,
      KEY_STORAGE: 'hashed',
      KEY_PREFIX: 'acme2_',
      USAGE_FLUSH_INTERVAL_MS: '250',
      BODY_LIMIT: '100kb',
      LOG_LEVEL: 'debug',
      MIGRATE_ON_START: 'false',
      WEBHOOK_RETENTION_DAYS: '90',
    });

    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      database: { provider: 'sqlite', file: path.resolve('/var/lib/keymeter', 'keymeter.db') },
      dataDir: '/var/lib/keymeter',
      secret: HEX_SECRET,
      keyStorage: 'hashed',
      keyPrefix: 'acme2_',
      usageFlushIntervalMs: 250,
      bodyLimit: '100kb',
      logLevel: 'debug',
      migrateOnStart: false,
      webhookRetentionDays: 90,
    });
  });

  it('accepts a base64 secret of 32 bytes', () => {
    expect(loadConfig({ KEYMETER_SECRET: BASE64_SECRET }).secret).toBe(BASE64_SECRET);
  });

  it('accepts the ends of the numeric ranges', () => {
    expect(loadConfig({ PORT: '0', USAGE_FLUSH_INTERVAL_MS: '0' })).toMatchObject({
      port: 0,
      usageFlushIntervalMs: 0,
    });
    expect(loadConfig({ PORT: '65535', USAGE_FLUSH_INTERVAL_MS: '3600000' })).toMatchObject({
      port: 65535,
      usageFlushIntervalMs: 3_600_000,
    });
  });

  describe('with DATABASE_URL', () => {
    it('uses PostgreSQL with the URL as given for postgresql://', () => {
      const url = 'postgresql://keymeter:pw@db.internal:5432/keymeter?schema=public';

      expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ provider: 'postgresql', url });
    });

    it('uses PostgreSQL for the postgres:// spelling too', () => {
      const url = 'postgres://localhost/keymeter';

      expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ provider: 'postgresql', url });
    });

    it('uses SQLite at the absolute form of a relative file: path', () => {
      const config = loadConfig({ DATABASE_URL: 'file:./var/app.db' });

      expect(config.database).toEqual({ provider: 'sqlite', file: path.resolve('var/app.db') });
      expect(path.isAbsolute((config.database as { file: string }).file)).toBe(true);
    });

    it('uses SQLite at an absolute file: path as given', () => {
      expect(loadConfig({ DATABASE_URL: 'file:/srv/keymeter.db' }).database).toEqual({
        provider: 'sqlite',
        file: path.resolve('/srv/keymeter.db'),
      });
    });

    it('ignores DATA_DIR for the database file', () => {
      expect(
        loadConfig({ DATABASE_URL: 'file:/srv/keymeter.db', DATA_DIR: '/elsewhere' }).database,
      ).toEqual({ provider: 'sqlite', file: path.resolve('/srv/keymeter.db') });
    });
  });

  describe('with an invalid value', () => {
    it.each([
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['PORT', '-1'],
      ['PORT', '80.5'],
      ['USAGE_FLUSH_INTERVAL_MS', '-1'],
      ['USAGE_FLUSH_INTERVAL_MS', '3600001'],
      ['USAGE_FLUSH_INTERVAL_MS', 'soon'],
      ['KEY_STORAGE', 'plain'],
      ['DATABASE_URL', 'mysql://x'],
      ['DATABASE_URL', 'file:'],
      ['BODY_LIMIT', 'huge'],
      ['BODY_LIMIT', '10gb'],
      ['KEY_PREFIX', 'Bad'],
      ['KEY_PREFIX', 'km'],
      ['KEY_PREFIX', '1km_'],
      ['KEY_PREFIX', 'abcdefghijk_'],
      ['LOG_LEVEL', 'trace'],
      ['MIGRATE_ON_START', 'yes'],
      ['WEBHOOK_RETENTION_DAYS', '1'],
      ['WEBHOOK_RETENTION_DAYS', 'forever'],
    ])('stops with a ConfigError naming %s=%s', (name, value) => {
      const message = configError({ [name]: value });

      expect(message).toContain(`${name}=${JSON.stringify(value)}`);
    });

    it.each(['short', 'ab'.repeat(31)])(
      'names KEYMETER_SECRET without printing its value (%s)',
      (value) => {
        const message = configError({ KEYMETER_SECRET: value });

        expect(message).toContain('KEYMETER_SECRET=<hidden');
        expect(message).not.toContain(value);
      },
    );

    it('cuts the credentials out of a bad DATABASE_URL', () => {
      const message = configError({ DATABASE_URL: 'mysql://user:hunter2@db/x' });

      expect(message).toContain('DATABASE_URL');
      expect(message).not.toContain('hunter2');
    });

    it('explains what DATABASE_URL must look like', () => {
      expect(configError({ DATABASE_URL: 'mysql://x' })).toMatch(/file:.*postgresql:\/\//);
    });

    it('explains what BODY_LIMIT must look like', () => {
      expect(configError({ BODY_LIMIT: 'huge' })).toMatch(/100kb or 1mb/);
    });

    it('names only the bad variable, not the valid ones', () => {
      const message = configError({ PORT: '8080', KEY_STORAGE: 'plain' });

      expect(message).toContain('KEY_STORAGE');
      expect(message).not.toContain('PORT');
    });

    it('names every bad variable in one message', () => {
      const message = configError({
        PORT: 'abc',
        USAGE_FLUSH_INTERVAL_MS: '-1',
        KEY_STORAGE: 'plain',
        DATABASE_URL: 'mysql://x',
        KEYMETER_SECRET: 'short',
        KEY_PREFIX: 'Bad',
      });

      for (const name of [
        'PORT',
        'USAGE_FLUSH_INTERVAL_MS',
        'KEY_STORAGE',
        'DATABASE_URL',
        'KEYMETER_SECRET',
        'KEY_PREFIX',
      ]) {
        expect(message).toContain(`${name}=`);
      }
      expect(message.split('\n')).toHaveLength(7);
    });
  });

  describe('gateway mode', () => {
    it('is off unless both GATEWAY_UPSTREAM and GATEWAY_PORT are set', () => {
      expect(loadConfig({}).gateway).toBeNull();
      expect(
        loadConfig({ GATEWAY_UPSTREAM: 'http://127.0.0.1:8081/v1', GATEWAY_PORT: '8080' }).gateway,
      ).toEqual({ upstream: new URL('http://127.0.0.1:8081/v1'), port: 8080, timeoutMs: 30_000 });
    });

    it.each([
      [{ GATEWAY_PORT: '8080' }, /GATEWAY_PORT=8080: set GATEWAY_UPSTREAM too/],
      [{ GATEWAY_UPSTREAM: 'http://a:1' }, /GATEWAY_UPSTREAM="http:\/\/a:1": set GATEWAY_PORT too/],
      [
        { GATEWAY_UPSTREAM: 'not a url', GATEWAY_PORT: '8080' },
        /GATEWAY_UPSTREAM="not a url": must be a URL/,
      ],
      [
        { GATEWAY_UPSTREAM: 'ftp://a', GATEWAY_PORT: '8080' },
        /must start with http:\/\/ or https:\/\//,
      ],
      [
        { GATEWAY_UPSTREAM: 'http://a/?x=1', GATEWAY_PORT: '8080' },
        /without query, fragment or credentials/,
      ],
      [
        { GATEWAY_UPSTREAM: 'http://a', GATEWAY_PORT: '3000' },
        /GATEWAY_PORT=3000: must differ from PORT/,
      ],
      [{ GATEWAY_UPSTREAM: 'http://a', GATEWAY_PORT: '70000' }, /GATEWAY_PORT="70000"/],
      [
        { GATEWAY_UPSTREAM: 'http://a', GATEWAY_PORT: '8080', GATEWAY_TIMEOUT_MS: '5' },
        /GATEWAY_TIMEOUT_MS="5"/,
      ],
    ])('refuses %j, naming the variable', (env, message) => {
      expect(() => loadConfig(env)).toThrow(message);
    });

    it('never prints the credentials of a GATEWAY_UPSTREAM it refuses', () => {
      expect(() =>
        loadConfig({ GATEWAY_UPSTREAM: 'http://user:s3cret@up/', GATEWAY_PORT: '8080' }),
      ).toThrow('GATEWAY_UPSTREAM="http://***@up/": must be an origin');
      expect(() =>
        loadConfig({ GATEWAY_UPSTREAM: 'http://user:s3cret@up/', GATEWAY_PORT: '8080' }),
      ).not.toThrow(/s3cret/);
    });
  });
});
