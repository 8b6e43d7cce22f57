import { AuditEntry, AuditPage, auditCsvUrl, listAudit } from './api';
import { errorSlot, showError } from './dialog';
import { field, h, replace, uid } from './dom';
import { isSessionEnd, messageOf } from './errors';
import { formatInstant, formatInt, formatUtc } from './format';
import type { ViewContext } from './keys-view';
import { formatQuota, formatRate } from './limits';
import { announce } from './status';

/** Entries per page; "Load more" asks for the next. */
export const ENTRIES_PER_PAGE = 50;
/** The CSV link gives the newest this many entries: one page of the API's largest. */
const CSV_ENTRIES = 1000;

/** The audit log's actions in words, in the order the filter offers them. */
const ACTIONS: Record<string, string> = {
  'key.created': 'Key created',
  'key.renamed': 'Key renamed',
  'key.deactivated': 'Key deactivated',
  'key.activated': 'Key activated',
  'key.expiry_changed': 'Key expiry changed',
  'key.limits_changed': 'Key limits changed',
  'key.rolled': 'Key rolled',
  'key.deleted': 'Key deleted',
  'keys.revealed': 'Keys shown in full',
  'webhook.created': 'Webhook added',
  'webhook.updated': 'Webhook changed',
  'webhook.secret_rotated': 'Webhook secret rotated',
  'webhook.disabled': 'Webhook disabled for failing',
  'webhook.deleted': 'Webhook deleted',
  'account.registered': 'Account created',
  'account.limits_changed': 'Account limits changed',
  'session.signed_in': 'Signed in',
  'session.signed_out': 'Signed out',
  'sign_in.failed': 'Sign-in failed',
  'sign_in.throttled': 'Sign-in throttled',
};

const ACTORS: Record<string, string> = {
  master_key: 'Master key',
  key: 'API key',
  session: 'Dashboard session',
  password: 'Email and password',
  anonymous: 'Anonymous',
  system: 'keymeter',
};

const FIELDS: Record<string, string> = {
  name: 'Name',
  isActive: 'Status',
  expiresAt: 'Expiry',
  rateLimit: 'Rate limit',
  quota: 'Quota',
  url: 'URL',
  events: 'Events',
  enabled: 'Enabled',
  description: 'Description',
  failingSince: 'Failing since',
};

/** The action filter as the route carries it (`#/activity?action=key.renamed`); null: all. */
function actionFrom(params: URLSearchParams): string | null {
  const action = params.get('action');
  return action !== null && action in ACTIONS ? action : null;
}

/** "Activity": the account's audit log, newest first, a page at a time, filtered by action. */
export async function renderActivity(
  main: HTMLElement,
  ctx: ViewContext,
  params: URLSearchParams,
): Promise<void> {
  let action = actionFrom(params);
  const heading = h('h1', { id: 'activity-title', tabindex: -1 }, 'Activity');
  const filterId = uid('action');
  const filter = h(
    'select',
    { id: filterId, name: 'action' },
    h('option', { value: '' }, 'All actions'),
    Object.entries(ACTIONS).map(([value, label]) =>
      h('option', { value, selected: value === action }, label),
    ),
  );
  const csv = h('a', { class: 'button-link', download: true, href: '#' }, 'Download CSV');
  const error = errorSlot();
  const tbody = h('tbody', {});
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const table = h(
    'table',
    { class: 'log' },
    h('caption', { class: 'visually-hidden' }, 'Activity, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Time', 'Action', 'By', 'Key', 'Change', 'IP address'].map((title) =>
          h('th', { scope: 'col' }, title),
        ),
      ),
    ),
    tbody,
  );

  let cursor: string | null = null;
  let shown = 0;
  let sequence = 0;
  /** Loads the first page (fresh) or the next one (appended). */
  const load = async (fresh: boolean) => {
    const mine = ++sequence;
    showError(error, null);
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    if (fresh) {
      cursor = null;
      shown = 0;
      replace(tbody, h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'Loading activity…')));
    }
    let page: AuditPage;
    try {
      page = await listAudit(ENTRIES_PER_PAGE, action, cursor);
    } catch (err) {
      if (mine !== sequence) return;
      if (isSessionEnd(err)) return ctx.sessionEnded();
      if (fresh) replace(tbody);
      showError(error, messageOf(err));
      more.disabled = false;
      table.removeAttribute('aria-busy');
      return;
    }
    if (mine !== sequence) return;
    table.removeAttribute('aria-busy');
    const rows = page.entries.map(entryRow);
    if (fresh) replace(tbody, rows);
    else tbody.append(...rows);
    if (shown + rows.length === 0) {
      replace(
        tbody,
        h(
          'tr',
          {},
          h(
            'td',
            { colspan: 6, class: 'empty' },
            action === null ? 'Nothing has happened yet.' : 'No entries of this action.',
          ),
        ),
      );
    }
    shown += rows.length;
    cursor = page.nextCursor;
    count.textContent =
      shown === 0
        ? ''
        : `${formatInt(shown)} ${shown === 1 ? 'entry' : 'entries'} shown` +
          (cursor === null ? ', the oldest last.' : '.');
    const moreHadFocus = document.activeElement === more;
    more.hidden = cursor === null;
    more.disabled = false;
    if (!fresh) {
      announce(
        `${formatInt(rows.length)} older ${rows.length === 1 ? 'entry' : 'entries'} loaded.`,
      );
      // The button went with the last page: focus goes to the first row it brought.
      if (moreHadFocus && more.hidden) rows[0]?.focus();
    }
  };

  const applyFilter = () => {
    action = filter.value === '' ? null : filter.value;
    history.replaceState(
      null,
      '',
      action === null ? '#/activity' : `#/activity?${new URLSearchParams({ action })}`,
    );
    csv.href = auditCsvUrl(CSV_ENTRIES, action);
    csv.setAttribute('download', `keymeter-activity${action === null ? '' : `-${action}`}.csv`);
    void load(true);
  };
  filter.addEventListener('change', applyFilter);
  more.addEventListener('click', () => void load(false));

  replace(
    main,
    h(
      'section',
      { class: 'activity', 'aria-labelledby': 'activity-title' },
      h('div', { class: 'section-head' }, heading, h('div', { class: 'actions' }, csv)),
      h(
        'p',
        { class: 'muted' },
        'Changes to your keys, sign-ins and sign-ups, newest first. ',
        `Download CSV gives the newest ${formatInt(CSV_ENTRIES)} entries of the action chosen.`,
      ),
      h(
        'form',
        { class: 'filters', onsubmit: (event: Event) => event.preventDefault() },
        field(filter, 'Action'),
      ),
      error,
      table,
      h('div', { class: 'pager' }, count, more),
    ),
  );
  heading.focus();
  applyFilter();
}

function entryRow(entry: AuditEntry): HTMLTableRowElement {
  const { date, time } = formatInstant(entry.at, true);
  const actor = ACTORS[entry.actor.type] ?? entry.actor.type;
  const actorDetail = [entry.actor.id && `id ${entry.actor.id}`, entry.userAgent]
    .filter(Boolean)
    .join(' · ');
  return h(
    'tr',
    { 'data-entry-id': entry.id, 'data-action': entry.action, tabindex: -1 },
    h(
      'td',
      { 'data-label': 'Time' },
      h(
        'time',
        { datetime: entry.at, title: formatUtc(entry.at) },
        date,
        h('span', { class: 'time-of-day' }, time),
      ),
    ),
    h('td', { 'data-label': 'Action' }, ACTIONS[entry.action] ?? entry.action),
    h('td', { 'data-label': 'By', title: actorDetail || null }, actor),
    h(
      'td',
      { 'data-label': 'Key' },
      entry.target ? entry.target.keyName : h('span', { class: 'muted' }, '–'),
    ),
    h('td', { 'data-label': 'Change' }, changesOf(entry)),
    h('td', { 'data-label': 'IP address' }, entry.ip ?? h('span', { class: 'muted' }, '–')),
  );
}

function changesOf(entry: AuditEntry): HTMLElement {
  // A webhook entry names its endpoint as a change from itself to itself: not a change to show.
  const changes = Object.entries(entry.changes ?? {}).filter(
    ([field, { before, after }]) => !(field === 'endpointId' && before === after),
  );
  if (changes.length === 0) return h('span', { class: 'muted' }, '–');
  return h(
    'ul',
    { class: 'changes' },
    changes.map(([field, { before, after }]) =>
      h(
        'li',
        {},
        h('span', { class: 'field-name' }, `${FIELDS[field] ?? field}: `),
        valueOf(field, before),
        h('span', { 'aria-hidden': 'true' }, ' → '),
        h('span', { class: 'visually-hidden' }, ' changed to '),
        valueOf(field, after),
      ),
    ),
  );
}

function valueOf(field: string, value: unknown): string {
  if (field === 'isActive' && typeof value === 'boolean') return value ? 'active' : 'inactive';
  if (field === 'expiresAt') {
    if (value === null) return 'never';
    if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return formatUtc(value);
  }
  if (value === null || value === undefined) return 'none';
  if (field === 'rateLimit' && isRecord(value) && typeof value.limit === 'number') {
    return formatRate({ limit: value.limit, windowSeconds: Number(value.windowSeconds) });
  }
  if (field === 'quota' && isRecord(value) && typeof value.period === 'string') {
    // The log keeps an unlimited dimension as null.
    const amount = (v: unknown) => (typeof v === 'number' ? v : undefined);
    return formatQuota({
      requests: amount(value.requests),
      volumeBytes: amount(value.volumeBytes),
      period: value.period as 'day' | 'month' | 'total',
    });
  }
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(String).join(', ');
  if (typeof value === 'string') return `“${value}”`;
  return JSON.stringify(value);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;
