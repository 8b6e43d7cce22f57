import { Module } from '@nestjs/common';
import { WEBHOOK_CLOCK } from './webhook-clock';
import { WebhookOutbox } from './webhook-outbox';

/** The outbox alone, for the features whose changes raise events (keys). */
@Module({
  providers: [WebhookOutbox, { provide: WEBHOOK_CLOCK, useValue: Date.now }],
  exports: [WebhookOutbox, WEBHOOK_CLOCK],
})
export class WebhookOutboxModule {}
