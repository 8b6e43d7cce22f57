import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { AnyKey } from '../access/access.decorator';
import { Public } from '../access/public.decorator';
import { PrismaService } from '../prisma/prisma.service';
import { UsageMeter } from '../usage/usage-meter.service';

const OK = { ok: true } as const;

/**
 * Trivial routes for `npm run bench` and independent load runs (`node dist/bench/bench.main.js`):
 * the same handler unguarded and behind the guard, so that their difference is the cost of
 * checking and metering a key. main.ts never loads them.
 */
@ApiExcludeController()
@Controller('__bench')
export class BenchController {
  constructor(
    private readonly prisma: PrismaService,
    private readonly meter: UsageMeter,
  ) {}

  @Public()
  @Get('noop')
  noop() {
    return OK;
  }

  @AnyKey()
  @Get('metered')
  metered() {
    return OK;
  }

  /** The same with a body, whose size is metered as volume. */
  @AnyKey()
  @Post('metered')
  @HttpCode(200)
  meteredPost() {
    return OK;
  }

  /** Counters a benchmark reads before and after a run. */
  @Public()
  @Get('stats')
  stats() {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      dbQueries: this.prisma.statements,
      usagePending: this.meter.pendingBuckets > 0,
      cpuUs: cpu.user + cpu.system,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      node: process.version,
      pid: process.pid,
    };
  }

  /** A full collection (with --expose-gc), so that a run does not pay for the last one's garbage. */
  @Public()
  @Post('gc')
  @HttpCode(204)
  gc(): void {
    (globalThis as { gc?: () => void }).gc?.();
  }
}
