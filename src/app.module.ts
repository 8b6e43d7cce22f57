import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccessModule } from './access/access.module';
import { ApiKeyGuard } from './access/api-key.guard';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CryptoModule } from './common/crypto/crypto.module';
import { ShutdownState } from './common/shutdown';
import { ConfigModule } from './config/config.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { GatewayModule } from './gateway/gateway.module';
import { HealthModule } from './health/health.module';
import { KeysModule } from './keys/keys.module';
import { AccountLimitsModule } from './limits/account-limits.module';
import { MetricsModule } from './metrics/metrics.module';
import { PrismaModule } from './prisma/prisma.module';
import { RadarModule } from './radar/radar.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({
  imports: [
    ConfigModule,
    PrismaModule,
    CryptoModule,
    MetricsModule,
    AccessModule,
    AuditModule,
    AuthModule,
    KeysModule,
    AccountLimitsModule,
    RadarModule,
    HealthModule,
    DashboardModule,
    GatewayModule,
    WebhooksModule,
  ],
  // The one global guard: deny by default. Here, where both the gate (access/) and the session
  // authenticator (auth/) it asks are in scope.
  providers: [ShutdownState, { provide: APP_GUARD, useClass: ApiKeyGuard }],
})
export class AppModule {}
