import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { MetricsModule } from '../metrics/metrics.module';
import { MetricsService } from '../metrics/metrics.service';
import { KeyExpiryEvents } from './key-expiry-events';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookOutboxModule } from './webhook-outbox.module';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookWorker } from './webhook-worker';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/** Webhook endpoints (API), and the worker that delivers the outbox. */
@Module({
  imports: [WebhookOutboxModule, MetricsModule, KeysModule],
  controllers: [WebhooksController],
  providers: [
    WebhooksRepository,
    WebhooksService,
    WebhookSecrets,
    WebhookDeliveriesRepository,
    WebhookWorker,
    KeyExpiryEvents,
    {
      provide: WebhookMetrics,
      useFactory: (metrics: MetricsService) => new WebhookMetrics(metrics),
      inject: [MetricsService],
    },
  ],
})
export class WebhooksModule {}
