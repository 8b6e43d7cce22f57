import { Module } from '@nestjs/common';
import { KeyVault } from '../common/crypto/key-vault.service';
import { UsageMeter } from '../usage/usage-meter.service';
import { UsageModule } from '../usage/usage.module';
import { LimitsEnforcer } from '../limits/limits-enforcer';
import { LimitsModule } from '../limits/limits.module';
import { ApiAnswers } from '../usage/api-answers';
import { AccessGate } from './access-gate';
import { KeyAccessRepository } from './key-access.repository';
import { KeyChangeChannel } from './key-change-channel';
import { KeyCache } from './key-cache.service';

/**
 * The request gate: the key cache, its one query, the channel that keeps the caches of several
 * instances in step, and AccessGate. The global guard that puts it in front of every route is
 * registered by AppModule, next to the session authenticator it also needs (from auth/), so that
 * access/ imports no feature above it.
 */
@Module({
  imports: [UsageModule, LimitsModule],
  providers: [
    KeyAccessRepository,
    KeyCache,
    // Injects KeyCache and registers with it: the cache does not know the channel.
    KeyChangeChannel,
    {
      provide: AccessGate,
      inject: [KeyVault, KeyCache, UsageMeter, LimitsEnforcer],
      useFactory: (vault: KeyVault, cache: KeyCache, meter: UsageMeter, limits: LimitsEnforcer) =>
        new AccessGate(vault, cache, meter, limits, new ApiAnswers(meter)),
    },
  ],
  exports: [AccessGate, KeyCache, UsageModule, LimitsModule],
})
export class AccessModule {}
