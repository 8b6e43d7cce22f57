import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { Public } from '../access/public.decorator';
import { DatabaseHealthIndicator } from './database.health';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
  ) {}

  /** 200 when the database answers, 503 otherwise. */
  @Public()
  @Get()
  @HealthCheck()
  async check(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.database.isHealthy('database')]);
    } catch (error) {
      // Terminus throws its own body; keep the one error envelope and say what is down.
      const details = error instanceof ServiceUnavailableException ? error.getResponse() : null;
      const down = Object.entries((details as { error?: object } | null)?.error ?? {});
      throw new ServiceUnavailableException(
        `unhealthy: ${down.map(([name, info]) => `${name} (${(info as { message?: string }).message ?? 'down'})`).join(', ') || 'unknown'}`,
      );
    }
  }
}
