import { Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { CryptoModule } from './common/crypto/crypto.module';
import { ConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { KeysModule } from './keys/keys.module';
import { MetricsModule } from './metrics/metrics.module';
import { PrismaModule } from './prisma/prisma.module';

@Module({
  imports: [
    ConfigModule,
    PrismaModule,
    CryptoModule,
    MetricsModule,
    AuthModule,
    KeysModule,
    HealthModule,
  ],
})
export class AppModule {}
