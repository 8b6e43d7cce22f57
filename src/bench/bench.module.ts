import { Module } from '@nestjs/common';
import { AppModule } from '../app.module';
import { UsageModule } from '../usage/usage.module';
import { BenchController } from './bench.controller';

/** keymeter plus the benchmark's routes: what bench.main.ts boots (never main.ts). */
@Module({ imports: [AppModule, UsageModule], controllers: [BenchController] })
export class BenchAppModule {}
