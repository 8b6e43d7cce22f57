import { ApiKey, Interval, INTERVALS, listKeys, TrafficPoint, usage, usageCsvUrl } from './api';
import { drawTrafficChart, drawUsageChart, UsageChart } from './chart';
import { errorSlot, showError } from './dialog';
import { field, h, replace, uid } from './dom';
import {
  defaultRange,
  formatBytes,
  formatGigabytes,
  formatInt,
  formatMs,
  formatPercent,
  maskKey,
} from './format';
import { isSessionEnd, messageOf } from './errors';
import { isExpired } from './expiry';
import type { ViewContext } from './keys-view';
import { errorRateOf, TrafficTotals, trafficTotals } from './traffic';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Rows beyond which the data table is not built (the CSV has them all). */
const TABLE_LIMIT = 500;

let charts: UsageChart[] = [];

/** Call when leaving the view: each chart holds a canvas and a resize observer. */
export function disposeUsageView(): void {
  for (const chart of charts) chart.destroy();
  charts = [];
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
  const trafficBox = h('div', {
    class: 'traffic-chart',
    role: 'img',
    'aria-label': 'Errors and latency chart',
  });
  const tableBox = h('div', { class: 'table-box' });
  const total = (name: string) => h('dd', { 'data-total': name }, '–');
  const requestsTotal = total('requests');
  const volumeTotal = total('volume');
  const volumeOutTotal = total('volumeOut');
  const errorRateTotal = total('errorRate');
  const latencyAvgTotal = total('latencyAvg');
  const latencyMaxTotal = total('latencyMax');
  const refusedTotal = total('refused');
  const allTotals = [
    requestsTotal,
    volumeTotal,
    volumeOutTotal,
    errorRateTotal,
    latencyAvgTotal,
    latencyMaxTotal,
    refusedTotal,
  ];
  const refusedItem = totalItem(
    'Refused',
    refusedTotal,
    'Requests refused by the key’s rate limit or quota',
  );
  refusedItem.hidden = true;
  /** Whether the key has limits: the requests they refused are then shown too. */
  let limited = false;
  const csv = h('a', { class: 'button-link', download: true, href: '#' }, 'Download CSV');
  const totalsCaption = h('p', { class: 'muted' });
  const results = h(
    'div',
    { class: 'results' },
    h('div', { class: 'card chart-card' }, chartBox),
    h('div', { class: 'card chart-card' }, trafficBox),
    h(
      'section',
      { class: 'card totals', 'aria-labelledby': 'totals-title', 'aria-live': 'polite' },
      h('h2', { id: 'totals-title' }, 'Cumulative usage for the range'),
      totalsCaption,
      h(
        'dl',
        {},
        totalItem('Requests', requestsTotal),
        totalItem('Input volume', volumeTotal, 'Request body bytes received'),
        totalItem('Output volume', volumeOutTotal, 'Response body bytes sent to clients'),
        totalItem(
          'Error rate',
          errorRateTotal,
          'Responses with a 4xx or 5xx status, of all responses',
        ),
        totalItem('Mean latency', latencyAvgTotal, 'The mean time to answer, over all responses'),
        totalItem('Worst latency', latencyMaxTotal, 'The longest time to answer in the range'),
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
      const points = await usage(keyId, q.from, `${q.to}T23:59:59`, q.interval);
      if (mine !== sequence) return;
      show(points, q);
    } catch (err) {
      if (mine !== sequence) return;
      if (isSessionEnd(err)) return ctx.sessionEnded();
      disposeUsageView();
      replace(chartBox);
      replace(trafficBox);
      replace(tableBox);
      for (const dd of allTotals) {
        delete dd.dataset.value;
        dd.textContent = '–';
      }
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

  const show = (points: TrafficPoint[], q: Query) => {
    const totals = trafficTotals(points);
    const span = `${q.from} to ${q.to} (UTC), per ${q.interval}`;
    disposeUsageView();
    replace(chartBox);
    replace(trafficBox);
    charts = [
      drawUsageChart(chartBox, points, q.interval, limited),
      drawTrafficChart(trafficBox, points, q.interval),
    ];
    const refusals = limited ? `, ${formatInt(totals.refused)} refused` : '';
    chartBox.setAttribute(
      'aria-label',
      `Chart of requests and volume ${span}: ${formatInt(totals.requests)} requests, ` +
        `${formatBytes(totals.volume)} in, ${formatBytes(totals.volumeOut)} out${refusals}.`,
    );
    trafficBox.setAttribute(
      'aria-label',
      `Chart of errors and latency ${span}: ${answers(totals)}`,
    );
    totalsCaption.textContent = `${span}, ${formatInt(points.length)} buckets.`;
    setTotal(requestsTotal, totals.requests, formatInt(totals.requests));
    setTotal(volumeTotal, totals.volume, ...volumeText(totals.volume));
    setTotal(volumeOutTotal, totals.volumeOut, ...volumeText(totals.volumeOut));
    setTotal(
      errorRateTotal,
      totals.errorRate,
      totals.errorRate === null ? '–' : formatPercent(totals.errorRate),
      exact(
        totals.responses === 0
          ? 'no responses'
          : `${formatInt(totals.errors)} of ${formatInt(totals.responses)} responses` +
              (totals.serverErrors > 0 ? `, ${formatInt(totals.serverErrors)} 5xx` : ''),
      ),
    );
    setTotal(latencyAvgTotal, totals.latencyMsAvg, msText(totals.latencyMsAvg));
    setTotal(latencyMaxTotal, totals.latencyMsMax, msText(totals.latencyMsMax));
    refusedItem.hidden = !limited;
    setTotal(refusedTotal, totals.refused, formatInt(totals.refused));
    replace(tableBox, dataTable(points, limited));
    csv.hidden = false;
    csv.href = usageCsvUrl(keyId, q.from, `${q.to}T23:59:59`, q.interval);
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
        field(from, 'From'),
        field(to, 'To'),
        field(interval, 'Interval'),
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
  limited = key.rateLimit !== undefined || key.quota !== undefined;
  document.title = `Usage of ${key.name} · keymeter`;
  replace(
    subtitle,
    h('code', { class: 'key' }, maskKey(key.key)),
    ` · ${isExpired(key) ? 'Expired' : key.isActive ? 'Active' : 'Inactive'} · ` +
      `${formatInt(key.usageCount)} requests in all`,
  );
  await load();
}

/** A total of the range in the list: its term (with what it counts, as a tooltip) and `dd`. */
function totalItem(term: string, dd: HTMLElement, title?: string): HTMLElement {
  return h('div', {}, h('dt', { title }, term), dd);
}

/** A total's exact value in data-value (none when there is nothing to total) and its text. */
function setTotal(dd: HTMLElement, value: number | null, ...text: (string | Node)[]): void {
  if (value === null) delete dd.dataset.value;
  else dd.dataset.value = String(value);
  replace(dd, ...text);
}

function exact(text: string): HTMLElement {
  return h('span', { class: 'exact' }, ` (${text})`);
}

function volumeText(bytes: number): [string, HTMLElement] {
  return [formatGigabytes(bytes), exact(`${formatInt(bytes)} bytes`)];
}

function msText(ms: number | null): string {
  return ms === null ? '–' : formatMs(ms);
}

/** The range's answers in a sentence, for the errors and latency chart's label. */
function answers(totals: TrafficTotals): string {
  if (totals.errorRate === null) return 'no responses.';
  return (
    `${formatPercent(totals.errorRate)} errors (${formatInt(totals.errors)} of ` +
    `${formatInt(totals.responses)} responses, ${formatInt(totals.serverErrors)} 5xx), ` +
    `mean latency ${msText(totals.latencyMsAvg)}, worst ${msText(totals.latencyMsMax)}.`
  );
}

/** A bucket's latency as the API gave it (to the µs), without a unit: the column names it. */
const latencyCell = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });

function dataTable(points: TrafficPoint[], limited: boolean): HTMLElement {
  if (points.length > TABLE_LIMIT) {
    return h(
      'p',
      { class: 'muted' },
      `${formatInt(points.length)} buckets are too many to list here; download the CSV instead.`,
    );
  }
  const num = (text: string) => h('td', { class: 'num' }, text);
  const head = (text: string, title?: string) =>
    h('th', { scope: 'col', class: 'num', title }, text);
  return h(
    'table',
    { class: 'data' },
    h('caption', { class: 'visually-hidden' }, 'Requests, volume and responses per bucket'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Bucket (UTC)'),
        head('Requests'),
        head('Volume in (bytes)', 'Request body bytes received'),
        head('Volume out (bytes)', 'Response body bytes sent'),
        head('2xx'),
        head('3xx'),
        head('4xx'),
        head('5xx'),
        head('Error rate', '4xx and 5xx responses, of all responses'),
        head('Latency avg (ms)'),
        head('Latency max (ms)'),
        limited ? head('Refused', 'Requests refused by the key’s rate limit or quota') : null,
      ),
    ),
    h(
      'tbody',
      {},
      points.map((p) => {
        const rate = errorRateOf(p);
        return h(
          'tr',
          {},
          h('td', {}, p.bucket.replace('T', ' ').replace(':00.000Z', '')),
          num(formatInt(p.count)),
          num(formatInt(p.volume)),
          num(formatInt(p.volumeOut)),
          num(formatInt(p.status2xx)),
          num(formatInt(p.status3xx)),
          num(formatInt(p.status4xx)),
          num(formatInt(p.status5xx)),
          num(rate === null ? '–' : formatPercent(rate)),
          num(p.latencyMsAvg === null ? '–' : latencyCell.format(p.latencyMsAvg)),
          num(p.latencyMsMax === null ? '–' : latencyCell.format(p.latencyMsMax)),
          limited ? num(formatInt(p.refused)) : null,
        );
      }),
    ),
  );
}
