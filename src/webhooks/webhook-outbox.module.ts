import { Module } from '@nestjs/common';
import { WEBHOOK_CLOCK } from './webhook-clock';
import { RefusalEvents } from './refusal-events';
import { WebhookOutbox } from './webhook-outbox';

/** The outbox alone, for the features whose changes raise events (keys, limits). */
@Module({
  providers: [WebhookOutbox, RefusalEvents, { provide: WEBHOOK_CLOCK, useValue: Date.now }],
  exports: [WebhookOutbox, RefusalEvents, WEBHOOK_CLOCK],
})
export class WebhookOutboxModule {}
