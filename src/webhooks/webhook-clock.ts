/**
 * The clock of the outbox and the delivery worker (epoch ms): injected, so that tests can move
 * through a day of retries without waiting for it.
 */
export const WEBHOOK_CLOCK = Symbol('WEBHOOK_CLOCK');
export type WebhookClock = () => number;
