import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { WebhookOutboxModule } from '../webhooks/webhook-outbox.module';
import { LimitsEnforcer } from './limits-enforcer';
import { LimitsReader } from './limits-reader';
import { PeerInstances } from './peer-instances';
import { QuotaRepository } from './quota.repository';

/**
 * Enforcement of rate limits and quotas: the request gate (access/) asks LimitsEnforcer, and
 * the keys API shows a key's limits through LimitsReader. The routes that set them are in
 * AccountLimitsModule, which needs the gate's cache and so sits above access/.
 */
@Module({
  imports: [UsageModule, WebhookOutboxModule],
  providers: [QuotaRepository, PeerInstances, LimitsEnforcer, LimitsReader],
  exports: [LimitsEnforcer, LimitsReader],
})
export class LimitsModule {}
