import 'reflect-metadata';
import { LogLevel, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { configureApp } from './app.setup';
import { AppConfig, ConfigError, loadConfig } from './config/config';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Boots `root` with the app's pipeline and listens; a bad setting or a failed start ends the
 * process with a message and code 1. main.ts boots AppModule; the benchmark's own entry
 * (bench/bench.main.ts) boots AppModule plus its routes, so production code never loads them.
 */
export function bootstrap(root: Type, started?: (config: AppConfig) => void): void {
  const run = async (): Promise<void> => {
    const config = loadConfig();
    const app = await NestFactory.create<NestExpressApplication>(root, {
      bodyParser: false,
      logger: LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
    });
    configureApp(app);
    await app.listen(config.port, config.host);
    started?.(config);
    console.log(`keymeter listening on http://${config.host}:${config.port} (docs at /docs)`);
  };
  run().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(error instanceof ConfigError ? message : `keymeter could not start: ${message}`);
    process.exit(1);
  });
}
