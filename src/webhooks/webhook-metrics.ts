import { Counter } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';

export type DeliveryOutcome = 'delivered' | 'failed_attempt' | 'gave_up';

/** keymeter_webhook_deliveries_total{outcome}: attempts by how they ended (no URL or account). */
export class WebhookMetrics {
  private readonly deliveries: Counter<'outcome'>;

  constructor(metrics: MetricsService) {
    this.deliveries = new Counter({
      name: 'keymeter_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, failed_attempt (to be retried), gave_up',
      labelNames: ['outcome'] as const,
      registers: [metrics.registry],
    });
    for (const outcome of ['delivered', 'failed_attempt', 'gave_up'] as const) {
      this.deliveries.inc({ outcome }, 0);
    }
  }

  count(outcome: DeliveryOutcome): void {
    this.deliveries.inc({ outcome });
  }
}
