import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { LimitsModule } from '../limits/limits.module';
import { MetricsModule } from '../metrics/metrics.module';
import { MetricsService } from '../metrics/metrics.service';
import { UsageModule } from '../usage/usage.module';
import { KeyExpiryEvents } from './key-expiry-events';
import { ThresholdEvents } from './threshold-events';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookOutboxModule } from './webhook-outbox.module';
import { WebhookRetention } from './webhook-retention';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookWorker } from './webhook-worker';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/**
 * Webhook endpoints (API), the worker that delivers the outbox, and the events found apart from
 * a change (key expiry, usage thresholds).
 */
@Module({
  imports: [WebhookOutboxModule, MetricsModule, KeysModule, LimitsModule, UsageModule],
  controllers: [WebhooksController],
  providers: [
    WebhooksRepository,
    WebhooksService,
    WebhookSecrets,
    WebhookDeliveriesRepository,
    WebhookWorker,
    KeyExpiryEvents,
    ThresholdEvents,
    WebhookRetention,
    {
      provide: WebhookMetrics,
      useFactory: (metrics: MetricsService) => new WebhookMetrics(metrics),
      inject: [MetricsService],
    },
  ],
})
export class WebhooksModule {}
