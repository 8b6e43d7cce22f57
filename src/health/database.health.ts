import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { PrismaService } from '../prisma/prisma.service';

const TIMEOUT_MS = 2000;

@Injectable()
export class DatabaseHealthIndicator {
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
      return check.down({
        provider: this.prisma.dialect,
        message: error instanceof Error ? error.message : 'unreachable',
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
