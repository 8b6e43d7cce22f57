import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { MetricsModule } from '../metrics/metrics.module';
import { GatewayServer } from './gateway.server';

/** Gateway mode (GATEWAY_UPSTREAM, GATEWAY_PORT): keymeter as a metering reverse proxy. */
@Module({
  imports: [AccessModule, MetricsModule],
  providers: [GatewayServer],
  exports: [GatewayServer],
})
export class GatewayModule {}
