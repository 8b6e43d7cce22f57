import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { APP_CONFIG, AppConfig, loadConfig } from '../../src/config/config';
import { createDatabase, dropDatabase, POSTGRES_AVAILABLE_ENV } from './postgres';

export type Provider = 'sqlite' | 'postgresql';

export interface TestApp {
  provider: Provider;
  app: NestExpressApplication;
  config: AppConfig;
  http: TestAgent;
  dataDir: string;
  /** Stops the app and throws its database away. */
  close(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse this database (to restart an app on the same data). */
  databaseUrl?: string;
  /** The root module (default AppModule; BenchAppModule adds the benchmark's routes). */
  root?: Type;
  /** Providers to replace by a value (a clock, say): token and value. */
  overrides?: { provide: unknown; useValue: unknown }[];
}

/** Boots the real AppModule through configureApp on a fresh database of `provider`. */
export async function startApp(provider: Provider, options: StartOptions = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'keymeter-e2e-'));
  const databaseUrl =
    options.databaseUrl ??
    (provider === 'sqlite' ? `file:${path.join(dataDir, 'keymeter.db')}` : await createDatabase());
  const owned = !options.databaseUrl && provider === 'postgresql';
  const discard = async () => {
    if (owned) await dropDatabase(databaseUrl);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    KEYMETER_SECRET: randomBytes(32).toString('hex'),
    // Suites register many accounts from one address (127.0.0.1); the limit has its own tests.
    REGISTRATIONS_PER_ADDRESS_PER_HOUR: '1000000',
    ...options.env,
  });
  let app: NestExpressApplication;
  try {
    let builder = Test.createTestingModule({ imports: [options.root ?? AppModule] })
      .overrideProvider(APP_CONFIG)
      .useValue(config);
    for (const { provide, useValue } of options.overrides ?? []) {
      builder = builder.overrideProvider(provide).useValue(useValue);
    }
    const moduleRef = await builder.compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({
      bodyParser: false,
      logger: ['error', 'warn'],
      // A client a test abandoned mid-request (a fuzzed body cut short, say) would hold
      // app.close() until the server's own requestTimeout (60 s, as long as Jest's hook limit):
      // the suite's end destroys such sockets instead of waiting them out.
      forceCloseConnections: true,
    });
    configureApp(app);
    await app.init();
  } catch (error) {
    await discard();
    throw error;
  }
  return {
    provider,
    app,
    config,
    http: request(app.getHttpServer()),
    dataDir,
    async close() {
      await app.close();
      await discard();
    },
  };
}

/** The providers this run covers: PostgreSQL only when global-setup reached it. */
export function providers(): Provider[] {
  return process.env[POSTGRES_AVAILABLE_ENV] === '1' ? ['sqlite', 'postgresql'] : ['sqlite'];
}

/**
 * Declares the same suite once per database. `ctx()` returns the suite's running app (one app
 * and one fresh database per provider, started before the suite and closed after it).
 */
export function describeEachDatabase(title: string, body: (ctx: () => TestApp) => void): void {
  for (const provider of providers()) {
    describe(`${title} [${provider}]`, () => {
      let testApp: TestApp | undefined;
      beforeAll(async () => {
        testApp = await startApp(provider);
      });
      afterAll(async () => {
        await testApp?.close();
      });
      body(() => {
        if (!testApp) throw new Error('the test app did not start');
        return testApp;
      });
    });
  }
}
