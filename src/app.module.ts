import { Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { CryptoModule } from './common/crypto/crypto.module';
import { ShutdownState } from './common/shutdown';
import { ConfigModule } from './config/config.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { HealthModule } from './health/health.module';
import { KeysModule } from './keys/keys.module';
import { MetricsModule } from './metrics/metrics.module';
import { PrismaModule } from './prisma/prisma.module';
import { RadarModule } from './radar/radar.module';

@Module({
  imports: [
    ConfigModule,
    PrismaModule,
    CryptoModule,
    MetricsModule,
    AuthModule,
    KeysModule,
    RadarModule,
    HealthModule,
    DashboardModule,
  ],
  providers: [ShutdownState],
})
export class AppModule {}
