import {
  deleteWebhook,
  listDeliveries,
  listWebhooks,
  testWebhook,
  updateWebhook,
  Webhook,
  WebhookDelivery,
} from './api';
import { errorSlot, showError } from './dialog';
import { h, replace } from './dom';
import { isSessionEnd, messageOf } from './errors';
import { formatInstant, formatUtc } from './format';
import type { ViewContext } from './keys-view';
import { MenuItem } from './menu';
import { confirmDelete, focusManage, manageCell, runAction } from './row-menu';
import { announce } from './status';
import { rotateDialog, webhookDialog } from './webhook-dialogs';

const COLUMNS = ['URL', 'Events', 'Status', 'Last delivery', 'Created'];

/** Counts renders: one that a newer render overtook drops its answer. */
let renders = 0;

/** "Webhooks": the account's endpoints, an Add button, and a Manage menu per endpoint. */
export async function renderWebhooks(
  main: HTMLElement,
  ctx: ViewContext,
  focusId?: string,
): Promise<void> {
  const render = ++renders;
  const reload = (focus?: string) => renderWebhooks(main, ctx, focus);
  const heading = h('h1', { id: 'webhooks-title', tabindex: -1 }, 'Webhooks');
  const add = h(
    'button',
    { type: 'button', class: 'primary', onclick: () => webhookDialog(ctx, null, reload) },
    'Add webhook',
  );
  const refresh = h('button', { type: 'button', onclick: () => void reload() }, 'Refresh');
  const error = errorSlot();
  const tbody = h('tbody', {});
  replace(
    main,
    h(
      'section',
      { class: 'webhooks', 'aria-labelledby': 'webhooks-title' },
      h('div', { class: 'section-head' }, heading, h('div', { class: 'actions' }, refresh, add)),
      h(
        'p',
        { class: 'muted' },
        'keymeter POSTs your account’s events to these URLs, signed with each one’s secret ',
        '(Standard Webhooks), and retries a failed delivery for 24 h.',
      ),
      error,
      h(
        'table',
        { class: 'log hooks' },
        h('caption', { class: 'visually-hidden' }, 'Your webhook endpoints'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            COLUMNS.map((title) => h('th', { scope: 'col' }, title)),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
          ),
        ),
        tbody,
      ),
    ),
  );
  replace(tbody, emptyRow('Loading webhooks…'));

  let webhooks: Webhook[];
  try {
    webhooks = await listWebhooks();
  } catch (err) {
    if (render !== renders) return;
    if (isSessionEnd(err)) return ctx.sessionEnded();
    replace(tbody);
    showError(error, messageOf(err));
    return;
  }
  if (render !== renders) return;
  if (webhooks.length === 0) {
    replace(tbody, emptyRow('No webhooks yet. Add one to hear of key changes as they happen.'));
  } else {
    replace(
      tbody,
      webhooks.map((webhook) => webhookRow(webhook, ctx, reload)),
    );
  }
  if (focusId) {
    focusManage(main, focusId);
  } else if (!main.contains(document.activeElement)) {
    heading.focus();
  }
}

function emptyRow(text: string): HTMLTableRowElement {
  return h('tr', {}, h('td', { colspan: COLUMNS.length + 1, class: 'empty' }, text));
}

function webhookRow(
  webhook: Webhook,
  ctx: ViewContext,
  reload: (focus?: string) => Promise<void>,
): HTMLTableRowElement {
  const deliveriesHref = `#/webhooks/${encodeURIComponent(webhook.id)}/deliveries`;
  const items: MenuItem[] = [
    {
      label: 'Send test event',
      onSelect: () =>
        void runAction(ctx, async () => {
          await testWebhook(webhook.id);
          announce(`Test event sent to ${webhook.url}. See its deliveries.`);
          await reload(webhook.id);
        }),
    },
    { label: 'Deliveries', onSelect: () => (location.hash = deliveriesHref) },
    { label: 'Edit…', onSelect: () => webhookDialog(ctx, webhook, reload) },
    {
      label: 'Rotate secret…',
      onSelect: () => rotateDialog(ctx, webhook, () => reload(webhook.id)),
    },
    {
      label: webhook.enabled ? 'Disable' : 'Enable',
      onSelect: () =>
        void runAction(ctx, async () => {
          await updateWebhook(webhook.id, { enabled: !webhook.enabled });
          announce(`Webhook ${webhook.url} ${webhook.enabled ? 'disabled' : 'enabled'}.`);
          await reload(webhook.id);
        }),
    },
    {
      label: 'Delete…',
      danger: true,
      onSelect: () =>
        confirmDelete(ctx, {
          title: 'Delete this webhook?',
          message:
            `No more events will be sent to ${webhook.url}, and its deliveries are deleted ` +
            'with it. This cannot be undone. (To pause it, disable it instead.)',
          confirm: 'Delete webhook',
          remove: () => deleteWebhook(webhook.id),
          deleted: `Webhook ${webhook.url} deleted.`,
          reload,
          headingId: 'webhooks-title',
        }),
    },
  ];
  const last = h('td', { 'data-label': 'Last delivery' }, h('span', { class: 'muted' }, '…'));
  void fillLastDelivery(last, webhook.id);
  return h(
    'tr',
    { 'data-webhook-id': webhook.id, class: webhook.enabled ? null : 'inactive' },
    h(
      'td',
      { 'data-label': 'URL', class: 'url' },
      h('div', {}, h('a', { href: deliveriesHref, class: 'hook-url' }, webhook.url)),
      webhook.description ? h('div', { class: 'muted' }, webhook.description) : null,
    ),
    h(
      'td',
      { 'data-label': 'Events' },
      h(
        'ul',
        { class: 'events' },
        webhook.events.map((type) => h('li', {}, h('code', {}, type))),
      ),
    ),
    h('td', { 'data-label': 'Status' }, statusOf(webhook)),
    last,
    h('td', { 'data-label': 'Created' }, time(webhook.createdAt)),
    manageCell(webhook.id, `Manage webhook ${webhook.url}`, items),
  );
}

/** Enabled or disabled, and why when keymeter says: failing, turned off after 24 h of it. */
function statusOf(webhook: Webhook): HTMLElement {
  const since = webhook.failingSince;
  const detail = (text: string) => h('span', { class: 'hint' }, text);
  return h(
    'div',
    { class: 'status hook-status' },
    webhook.enabled
      ? h('span', { class: 'badge active' }, 'Enabled')
      : h('span', { class: 'badge off' }, 'Disabled'),
    !webhook.enabled && since
      ? detail(`by keymeter: every delivery failed from ${formatUtc(since)} for 24 h`)
      : null,
    webhook.enabled && since ? detail(`failing since ${formatUtc(since)}`) : null,
    webhook.previousSecretExpiresAt
      ? detail(`old secret signs too until ${formatUtc(webhook.previousSecretExpiresAt)}`)
      : null,
  );
}

async function fillLastDelivery(cell: HTMLElement, id: string): Promise<void> {
  let newest: WebhookDelivery | undefined;
  try {
    newest = (await listDeliveries(id, 1, null)).deliveries[0];
  } catch {
    replace(cell, h('span', { class: 'muted' }, 'unknown'));
    return;
  }
  replace(cell, newest ? deliveryState(newest) : h('span', { class: 'muted' }, 'None yet'));
}

/** "delivered · 200", "failed · 500", "pending · no answer": a delivery's state in brief. */
export function deliveryState(delivery: WebhookDelivery): HTMLElement {
  const code = delivery.lastResponseCode;
  const badge = { delivered: 'active', pending: 'default', failed: 'expired' }[delivery.status];
  return h(
    'span',
    { class: 'delivery-state', 'data-status': delivery.status },
    h('span', { class: `badge ${badge}` }, delivery.status),
    delivery.attempts > 0
      ? h('span', { class: 'hint' }, code === null ? 'no answer' : `HTTP ${code}`)
      : null,
  );
}

function time(iso: string): HTMLElement {
  const { date, time: ofDay } = formatInstant(iso);
  return h(
    'time',
    { datetime: iso, title: formatUtc(iso) },
    date,
    h('span', { class: 'time-of-day' }, ofDay),
  );
}
