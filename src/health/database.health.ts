import { Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { PrismaService } from '../prisma/prisma.service';

const TIMEOUT_MS = 2000;

@Injectable()
export class DatabaseHealthIndicator {
  private readonly logger = new Logger(DatabaseHealthIndicator.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly indicator: HealthIndicatorService,
  ) {}

  async isHealthy(name: string): Promise<HealthIndicatorResult> {
    const check = this.indicator.check(name);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.prisma.db.$queryRawUnsafe('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), TIMEOUT_MS);
        }),
      ]);
      return check.up({ provider: this.prisma.dialect });
    } catch (error) {
      // Prisma's messages can run to pages; the response says only what is wrong, the log more.
      const detail = error instanceof Error ? error.message : String(error);
      this.logger.warn(`database check failed: ${detail.split('\n').slice(-1)[0]}`);
      return check.down({
        provider: this.prisma.dialect,
        message: /timed out/.test(detail) ? 'timed out' : 'unreachable',
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
