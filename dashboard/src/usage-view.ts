import { ApiKey, Interval, INTERVALS, listKeys, usage, usageCsvUrl, UsagePoint } from './api';
import { drawUsageChart, UsageChart } from './chart';
import { errorSlot, showError } from './dialog';
import { h, replace, uid } from './dom';
import { defaultRange, formatBytes, formatGigabytes, formatInt, maskKey } from './format';
import { isSessionEnd, messageOf } from './errors';
import { isExpired } from './expiry';
import type { ViewContext } from './keys-view';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Rows beyond which the data table is not built (the CSV has them all). */
const TABLE_LIMIT = 500;

let chart: UsageChart | null = null;

/** Call when leaving the view: the chart holds a canvas and a resize observer. */
export function disposeUsageView(): void {
  chart?.destroy();
  chart = null;
}

interface Query {
  from: string;
  to: string;
  interval: Interval;
}

function queryFrom(params: URLSearchParams): Query {
  const defaults = defaultRange();
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const interval = params.get('interval') ?? '';
  return {
    from: DAY.test(from) ? from : defaults.from,
    to: DAY.test(to) ? to : defaults.to,
    interval: (INTERVALS as readonly string[]).includes(interval) ? (interval as Interval) : 'day',
  };
}

/** "Show usage": a date range and interval, a chart, and the range's totals at the bottom. */
export async function renderUsage(
  main: HTMLElement,
  ctx: ViewContext,
  keyId: string,
  params: URLSearchParams,
): Promise<void> {
  disposeUsageView();
  const query = queryFrom(params);
  const heading = h('h1', { tabindex: -1 }, 'Usage');
  const subtitle = h('p', { class: 'muted' });
  const fromId = uid('from');
  const toId = uid('to');
  const intervalId = uid('interval');
  const rangeHintId = uid('range-hint');
  const from = h('input', {
    id: fromId,
    type: 'date',
    name: 'from',
    required: true,
    value: query.from,
    'aria-describedby': rangeHintId,
  });
  const to = h('input', {
    id: toId,
    type: 'date',
    name: 'to',
    required: true,
    value: query.to,
    'aria-describedby': rangeHintId,
  });
  const interval = h(
    'select',
    { id: intervalId, name: 'interval' },
    INTERVALS.map((i) =>
      h('option', { value: i, selected: i === query.interval }, i[0].toUpperCase() + i.slice(1)),
    ),
  );
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Show usage');
  const error = errorSlot();
  const chartBox = h('div', { class: 'chart', role: 'img', 'aria-label': 'Usage chart' });
  const tableBox = h('div', { class: 'table-box' });
  const requestsTotal = h('dd', { 'data-total': 'requests' }, '–');
  const volumeTotal = h('dd', { 'data-total': 'volume' }, '–');
  const refusedTotal = h('dd', { 'data-total': 'refused' }, '–');
  const refusedItem = h(
    'div',
    { hidden: true },
    h('dt', { title: 'Requests refused by the key’s rate limit or quota' }, 'Refused'),
    refusedTotal,
  );
  /** Whether the key has limits: its usage then also counts the requests they refused. */
  let traffic = false;
  const csv = h('a', { class: 'button-link', download: true, href: '#' }, 'Download CSV');
  const totalsCaption = h('p', { class: 'muted' });
  const results = h(
    'div',
    { class: 'results' },
    h('div', { class: 'card chart-card' }, chartBox),
    h(
      'section',
      { class: 'card totals', 'aria-labelledby': 'totals-title', 'aria-live': 'polite' },
      h('h2', { id: 'totals-title' }, 'Cumulative usage for the range'),
      totalsCaption,
      h(
        'dl',
        {},
        h('div', {}, h('dt', {}, 'Requests'), requestsTotal),
        h('div', {}, h('dt', {}, 'Input volume'), volumeTotal),
        refusedItem,
      ),
      h('details', {}, h('summary', {}, 'Show the numbers per bucket'), tableBox),
      csv,
    ),
  );

  let sequence = 0;
  const load = async () => {
    const mine = ++sequence;
    const q: Query = { from: from.value, to: to.value, interval: interval.value as Interval };
    history.replaceState(
      null,
      '',
      `#/keys/${encodeURIComponent(keyId)}/usage?${new URLSearchParams({ ...q })}`,
    );
    showError(error, null);
    submit.disabled = true;
    results.setAttribute('aria-busy', 'true');
    try {
      if (!DAY.test(q.from) || !DAY.test(q.to)) {
        throw new Error('Choose both dates: from and to.');
      }
      // Whole UTC days: from the first day's midnight to the last second of the last day.
      const points = await usage(keyId, q.from, `${q.to}T23:59:59`, q.interval, traffic);
      if (mine !== sequence) return;
      show(points, q);
    } catch (err) {
      if (mine !== sequence) return;
      if (isSessionEnd(err)) return ctx.sessionEnded();
      disposeUsageView();
      replace(chartBox);
      replace(tableBox);
      requestsTotal.textContent = '–';
      volumeTotal.textContent = '–';
      refusedTotal.textContent = '–';
      totalsCaption.textContent = 'No range shown.';
      csv.hidden = true;
      showError(error, messageOf(err));
    } finally {
      if (mine === sequence) {
        submit.disabled = false;
        results.removeAttribute('aria-busy');
      }
    }
  };

  const show = (points: UsagePoint[], q: Query) => {
    const requests = points.reduce((sum, p) => sum + p.count, 0);
    const bytes = points.reduce((sum, p) => sum + p.volume, 0);
    const refused = points.reduce((sum, p) => sum + (p.refused ?? 0), 0);
    const span = `${q.from} to ${q.to} (UTC), per ${q.interval}`;
    disposeUsageView();
    replace(chartBox);
    chart = drawUsageChart(chartBox, points, q.interval, traffic);
    const refusals = traffic ? `, ${formatInt(refused)} refused` : '';
    chartBox.setAttribute(
      'aria-label',
      `Chart of requests and volume ${span}: ${formatInt(requests)} requests, ` +
        `${formatBytes(bytes)}${refusals}.`,
    );
    totalsCaption.textContent = `${span}, ${formatInt(points.length)} buckets.`;
    requestsTotal.dataset.value = String(requests);
    requestsTotal.textContent = formatInt(requests);
    volumeTotal.dataset.value = String(bytes);
    replace(
      volumeTotal,
      formatGigabytes(bytes),
      h('span', { class: 'exact' }, ` (${formatInt(bytes)} bytes)`),
    );
    refusedItem.hidden = !traffic;
    refusedTotal.dataset.value = String(refused);
    refusedTotal.textContent = formatInt(refused);
    replace(tableBox, dataTable(points, traffic));
    csv.hidden = false;
    csv.href = usageCsvUrl(keyId, q.from, `${q.to}T23:59:59`, q.interval, traffic);
    csv.setAttribute('download', `usage-${q.from}-${q.to}-${q.interval}.csv`);
  };

  replace(
    main,
    h(
      'section',
      { class: 'usage' },
      h(
        'nav',
        { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
        h('a', { href: '#/' }, '← API keys'),
      ),
      h('div', { class: 'section-head' }, heading),
      subtitle,
      h(
        'form',
        {
          class: 'card usage-form',
          onsubmit: (event: Event) => {
            event.preventDefault();
            void load();
          },
        },
        h('div', { class: 'field' }, h('label', { for: fromId }, 'From'), from),
        h('div', { class: 'field' }, h('label', { for: toId }, 'To'), to),
        h('div', { class: 'field' }, h('label', { for: intervalId }, 'Interval'), interval),
        h('div', { class: 'field submit' }, submit),
        h(
          'p',
          { id: rangeHintId, class: 'hint' },
          'Days are UTC and both are included. A range may span at most 92 days.',
        ),
      ),
      error,
      results,
    ),
  );
  heading.focus();

  let key: ApiKey | undefined;
  try {
    key = (await listKeys()).find((k) => k.id === keyId);
  } catch (err) {
    if (isSessionEnd(err)) return ctx.sessionEnded();
    showError(error, messageOf(err));
    return;
  }
  if (!key) {
    heading.textContent = 'Usage';
    showError(error, 'There is no such key in this account. It may have been deleted.');
    return;
  }
  heading.textContent = `Usage of “${key.name}”`;
  traffic = key.rateLimit !== undefined || key.quota !== undefined;
  document.title = `Usage of ${key.name} · keymeter`;
  replace(
    subtitle,
    h('code', { class: 'key' }, maskKey(key.key)),
    ` · ${isExpired(key) ? 'Expired' : key.isActive ? 'Active' : 'Inactive'} · ` +
      `${formatInt(key.usageCount)} requests in all`,
  );
  await load();
}

function dataTable(points: UsagePoint[], traffic: boolean): HTMLElement {
  if (points.length > TABLE_LIMIT) {
    return h(
      'p',
      { class: 'muted' },
      `${formatInt(points.length)} buckets are too many to list here; download the CSV instead.`,
    );
  }
  return h(
    'table',
    { class: 'data' },
    h('caption', { class: 'visually-hidden' }, 'Requests and volume per bucket'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Bucket (UTC)'),
        h('th', { scope: 'col', class: 'num' }, 'Requests'),
        h('th', { scope: 'col', class: 'num' }, 'Volume (bytes)'),
        traffic ? h('th', { scope: 'col', class: 'num' }, 'Refused') : null,
      ),
    ),
    h(
      'tbody',
      {},
      points.map((p) =>
        h(
          'tr',
          {},
          h('td', {}, p.bucket.replace('T', ' ').replace(':00.000Z', '')),
          h('td', { class: 'num' }, formatInt(p.count)),
          h('td', { class: 'num' }, formatInt(p.volume)),
          traffic ? h('td', { class: 'num' }, formatInt(p.refused ?? 0)) : null,
        ),
      ),
    ),
  );
}
