import 'reflect-metadata';
import { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { BenchAppModule } from './bench/bench.module';
import { ConfigError, loadConfig } from './config/config';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const root = config.benchRoutes ? BenchAppModule : AppModule;
  const app = await NestFactory.create<NestExpressApplication>(root, {
    bodyParser: false,
    logger: LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
  });
  configureApp(app);
  await app.listen(config.port, config.host);
  if (config.benchRoutes) console.warn('KEYMETER_BENCH_ROUTES=true: /__bench routes are open');
  console.log(`keymeter listening on http://${config.host}:${config.port} (docs at /docs)`);
}

bootstrap().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(error instanceof ConfigError ? message : `keymeter could not start: ${message}`);
  process.exit(1);
});
