import {
  DeliveryPage,
  getWebhook,
  listDeliveries,
  retryDelivery,
  Webhook,
  WebhookDelivery,
} from './api';
import { errorSlot, showError } from './dialog';
import { h, replace } from './dom';
import { isSessionEnd, messageOf } from './errors';
import { formatInstant, formatInt, formatSpan, formatUtc } from './format';
import type { ViewContext } from './keys-view';
import { announce } from './status';
import { deliveryState } from './webhooks-view';

/** Deliveries per page; "Load more" asks for the next. */
export const DELIVERIES_PER_PAGE = 25;
/** While the first page shows a pending delivery, it is reloaded this often... */
const REFRESH_MS = 2000;
/** ...if that delivery is due within this long (a retry hours away does not keep polling). */
const SOON_MS = 60_000;
const COLUMNS = ['Time', 'Event', 'Status', 'Attempts', 'Response', 'Next attempt'];

/** A webhook's deliveries, newest first, a page at a time, with Retry on those not delivered. */
export async function renderDeliveries(
  main: HTMLElement,
  ctx: ViewContext,
  id: string,
): Promise<void> {
  const heading = h('h1', { id: 'deliveries-title', tabindex: -1 }, 'Deliveries');
  const subtitle = h('p', { class: 'muted hook-url' });
  const error = errorSlot();
  const tbody = h('tbody', {});
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const table = h(
    'table',
    { class: 'log deliveries' },
    h('caption', { class: 'visually-hidden' }, 'Deliveries, newest first'),
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
  );
  replace(
    main,
    h(
      'section',
      { class: 'activity', 'aria-labelledby': 'deliveries-title' },
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/webhooks' }, '← Webhooks')),
      h('div', { class: 'section-head' }, heading, h('div', { class: 'actions' }, refresh)),
      subtitle,
      error,
      table,
      h('div', { class: 'pager' }, count, more),
    ),
  );
  heading.focus();

  let webhook: Webhook;
  try {
    webhook = await getWebhook(id);
  } catch (err) {
    if (isSessionEnd(err)) return ctx.sessionEnded();
    showError(error, messageOf(err));
    return;
  }
  subtitle.textContent = webhook.enabled
    ? `To ${webhook.url}`
    : `To ${webhook.url} (disabled: deliveries wait until it is enabled)`;

  let cursor: string | null = null;
  let shown = 0;
  let pages = 0;
  let sequence = 0;
  let timer: number | undefined;

  /** Loads the first page (fresh) or the next one (appended). */
  const load = async (fresh: boolean) => {
    const mine = ++sequence;
    window.clearTimeout(timer);
    showError(error, null);
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    let page: DeliveryPage;
    try {
      page = await listDeliveries(webhook.id, DELIVERIES_PER_PAGE, fresh ? null : cursor);
    } catch (err) {
      if (mine !== sequence) return;
      if (isSessionEnd(err)) return ctx.sessionEnded();
      showError(error, messageOf(err));
      more.disabled = false;
      table.removeAttribute('aria-busy');
      return;
    }
    if (mine !== sequence || !table.isConnected) return;
    table.removeAttribute('aria-busy');
    // A fresh load replaces the rows: focus stays on the same delivery's row or Retry button.
    const focused = document.activeElement as HTMLElement | null;
    const focusedRow = focused?.closest<HTMLElement>('tr[data-delivery-id]');
    const focusedRetry = focused?.matches('button.retry') ?? false;
    const rows = page.deliveries.map((d) => deliveryRow(d, retry));
    if (fresh) {
      shown = 0;
      pages = 0;
      replace(tbody, rows);
    } else {
      tbody.append(...rows);
    }
    pages++;
    if (shown + rows.length === 0) {
      replace(
        tbody,
        h(
          'tr',
          {},
          h(
            'td',
            { colspan: COLUMNS.length + 1, class: 'empty' },
            'Nothing sent yet. Send a test event from the Webhooks list.',
          ),
        ),
      );
    }
    shown += rows.length;
    cursor = page.nextCursor;
    count.textContent =
      shown === 0
        ? ''
        : `${formatInt(shown)} ${shown === 1 ? 'delivery' : 'deliveries'} shown` +
          (cursor === null ? ', the oldest last.' : '.');
    const moreHadFocus = focused === more;
    more.hidden = cursor === null;
    more.disabled = false;
    if (fresh && focusedRow?.dataset.deliveryId) {
      const again = tbody.querySelector<HTMLElement>(
        `tr[data-delivery-id="${CSS.escape(focusedRow.dataset.deliveryId)}"]`,
      );
      (focusedRetry
        ? (again?.querySelector<HTMLElement>('button.retry') ?? again)
        : again
      )?.focus();
    }
    if (!fresh) {
      announce(`${formatInt(rows.length)} older ${rows.length === 1 ? 'delivery' : 'deliveries'}.`);
      if (moreHadFocus && more.hidden) rows[0]?.focus();
    }
    // Keeps the first page current while something on it is about to be sent.
    const soon = Date.now() + SOON_MS;
    const due = (d: WebhookDelivery) =>
      d.status === 'pending' && d.nextAttemptAt !== null && Date.parse(d.nextAttemptAt) < soon;
    if (pages === 1 && page.deliveries.some(due)) {
      timer = window.setTimeout(() => {
        if (table.isConnected) void load(true);
      }, REFRESH_MS);
    }
  };

  const retry = async (delivery: WebhookDelivery, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      await retryDelivery(webhook.id, delivery.id);
      announce(`The ${delivery.type} delivery is due now.`);
    } catch (err) {
      if (isSessionEnd(err)) return ctx.sessionEnded();
      button.disabled = false;
      showError(error, messageOf(err));
      return;
    }
    await load(true);
  };

  more.addEventListener('click', () => void load(false));
  refresh.addEventListener('click', () => void load(true));
  await load(true);
}

function deliveryRow(
  delivery: WebhookDelivery,
  retry: (delivery: WebhookDelivery, button: HTMLButtonElement) => Promise<void>,
): HTMLTableRowElement {
  const actions = h('td', { class: 'row-actions' });
  if (delivery.status !== 'delivered') {
    const button: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        class: 'retry',
        'aria-label': `Retry the ${delivery.type} delivery of ${formatUtc(delivery.createdAt)}`,
        onclick: () => void retry(delivery, button),
      },
      'Retry',
    );
    actions.append(button);
  }
  return h(
    'tr',
    { 'data-delivery-id': delivery.id, 'data-event-id': delivery.eventId, tabindex: -1 },
    h('td', { 'data-label': 'Time' }, time(delivery.createdAt)),
    h('td', { 'data-label': 'Event' }, h('code', {}, delivery.type)),
    h('td', { 'data-label': 'Status' }, deliveryState(delivery)),
    h('td', { 'data-label': 'Attempts', class: 'num' }, formatInt(delivery.attempts)),
    h(
      'td',
      { 'data-label': 'Response' },
      delivery.lastResponseCode === null
        ? h('span', { class: 'muted' }, delivery.attempts === 0 ? '–' : 'no answer')
        : String(delivery.lastResponseCode),
    ),
    h('td', { 'data-label': 'Next attempt' }, nextAttempt(delivery)),
    actions,
  );
}

function nextAttempt(delivery: WebhookDelivery): HTMLElement {
  if (delivery.nextAttemptAt === null) {
    return h('span', { class: 'muted' }, delivery.status === 'failed' ? 'none: given up' : '–');
  }
  const left = new Date(delivery.nextAttemptAt).getTime() - Date.now();
  return h(
    'time',
    { datetime: delivery.nextAttemptAt, title: formatUtc(delivery.nextAttemptAt) },
    left <= 0 ? 'now' : `in ${formatSpan(left)}`,
  );
}

function time(iso: string): HTMLElement {
  const { date, time: ofDay } = formatInstant(iso, true);
  return h(
    'time',
    { datetime: iso, title: formatUtc(iso) },
    date,
    h('span', { class: 'time-of-day' }, ofDay),
  );
}
