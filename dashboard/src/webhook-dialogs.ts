import { createWebhook, rotateWebhookSecret, updateWebhook, Webhook } from './api';
import { dialogForm, openDialog } from './dialog';
import { field, h, hint, uid } from './dom';
import { formatUtc } from './format';
import type { ViewContext } from './keys-view';
import { showOnce } from './shown-once';
import { announce } from './status';

/** The event types an endpoint may subscribe to (src/webhooks/webhook-events.ts), in words. */
export const WEBHOOK_EVENTS: Record<string, string> = {
  'key.created': 'A key is created',
  'key.updated': 'A key is renamed, turned on or off, or its expiry or limits change',
  'key.deleted': 'A key is deleted',
  'key.rolled': 'A key is rolled (replaced by a new one)',
  'key.expiring': 'A key expires in 7 days, then in 1 day',
  'key.expired': 'A key has expired',
  'usage.threshold': "A key's quota use crosses 50 %, 80 % or 100 % of its period (once each)",
  'usage.rate_limited': 'A key is refused by its rate limit or quota (at most once a minute)',
};

/**
 * "Add webhook" (no `webhook`) or "Edit" (its URL, events and description). The API's own
 * message shows in the dialog when it refuses one (a private address, no event, ...).
 */
export function webhookDialog(
  ctx: ViewContext,
  webhook: Webhook | null,
  done: (id: string) => Promise<void>,
): void {
  openDialog(webhook ? 'Edit webhook' : 'Add a webhook', (close, dialog) => {
    const urlId = uid('webhook-url');
    const descriptionId = uid('webhook-description');
    const url = h('input', {
      id: urlId,
      name: 'url',
      type: 'url',
      required: true,
      maxlength: 2048,
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'https://api.example.com/keymeter-events',
      value: webhook?.url ?? '',
    });
    const description = h('input', {
      id: descriptionId,
      name: 'description',
      maxlength: 500,
      autocomplete: 'off',
      value: webhook?.description ?? '',
    });
    const boxes = Object.entries(WEBHOOK_EVENTS).map(([type, meaning]) => {
      const id = uid('event');
      const box = h('input', {
        id,
        type: 'checkbox',
        name: 'events',
        value: type,
        checked: webhook ? webhook.events.includes(type) : type.startsWith('key.'),
      });
      return {
        box,
        row: h(
          'div',
          { class: 'choice' },
          box,
          h('label', { for: id }, h('code', {}, type), h('span', { class: 'hint' }, meaning)),
        ),
      };
    });
    const form = dialogForm({
      ctx,
      close,
      submit: webhook ? 'Save' : 'Add',
      // The API says what is wrong with a URL (not https, a private address) in its words.
      attrs: { class: 'stack', novalidate: true },
      action: async () => {
        const events = boxes.filter((b) => b.box.checked).map((b) => b.box.value);
        if (webhook) {
          const updated = await updateWebhook(webhook.id, {
            url: url.value.trim(),
            events,
            description: description.value.trim() || null,
          });
          close();
          announce(`Webhook ${updated.url} saved.`);
          await done(updated.id);
        } else {
          const created = await createWebhook({
            url: url.value.trim(),
            events,
            ...(description.value.trim() && { description: description.value.trim() }),
          });
          showSecret(dialog, created.secret, close, {
            title: 'Webhook added',
            lead:
              `Events for ${created.webhook.url} are signed with this secret. ` +
              'Copy it now: it will not be shown again.',
          });
          // Shown once the secret is put away, with focus on the new endpoint's menu.
          dialog.addEventListener('close', () => void done(created.webhook.id));
        }
      },
      failed: () => url.focus(),
      content: [
        field(url, 'URL', hint('Where events are POSTed; https, on a public address.')),
        h(
          'fieldset',
          { class: 'choices' },
          h('legend', {}, 'Events'),
          boxes.map((b) => b.row),
        ),
        field(description, 'Description (optional)'),
      ],
    });
    queueMicrotask(() => url.focus());
    return [form];
  });
}

/** Asks, then rotates the endpoint's secret and shows the new one once. */
export function rotateDialog(ctx: ViewContext, webhook: Webhook, done: () => Promise<void>): void {
  openDialog('Rotate the signing secret?', (close, dialog) => [
    dialogForm({
      ctx,
      close,
      submit: 'Rotate secret',
      attrs: {},
      cancelFocused: true,
      action: async () => {
        const rotated = await rotateWebhookSecret(webhook.id);
        showSecret(dialog, rotated.secret, close, {
          title: 'New signing secret',
          lead: 'Copy the new secret now: it will not be shown again.',
          note:
            'The old secret keeps signing for 24 h, until ' +
            `${formatUtc(rotated.previousSecretExpiresAt)}: until then every delivery ` +
            'carries both signatures, so your receiver can switch at its pace.',
        });
        announce(`The secret of ${webhook.url} was rotated.`);
        dialog.addEventListener('close', () => void done());
      },
      content: [
        h(
          'p',
          {},
          `Deliveries to ${webhook.url} will be signed with a new secret. `,
          'The current one keeps signing alongside it for 24 h.',
        ),
      ],
    }),
  ]);
}

/** Turns a dialog into one that shows a signing secret, this once, with a copy button. */
function showSecret(
  dialog: HTMLDialogElement,
  secret: string,
  close: () => void,
  text: { title: string; lead: string; note?: string },
): void {
  showOnce(dialog, close, {
    ...text,
    value: secret,
    noun: 'secret',
    label: 'Signing secret',
    hint:
      'Each delivery carries webhook-id, webhook-timestamp and webhook-signature headers ' +
      '(Standard Webhooks): an HMAC-SHA256 of “id.timestamp.body”, keyed by the part ' +
      'after whsec_ read as base64.',
  });
}
