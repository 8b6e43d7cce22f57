import type { ApiKey, LimitSource, Quota, QuotaPeriod, QuotaView, RateLimit } from './api';
import { h } from './dom';
import { formatBytes, formatInt, formatSpan, formatUtc } from './format';

/** Limits in words and the key list's Limits cell: the rate, the quota and its period's use. */

const PERIOD_WORDS: Record<QuotaPeriod, string> = {
  day: 'today',
  month: 'this month',
  total: 'in all',
};

/** A window in the largest unit it fits exactly: "60 s", "5 min", "2 h", "1 day". */
export function formatWindow(seconds: number): string {
  if (seconds % 86_400 === 0)
    return `${formatInt(seconds / 86_400)} day${seconds > 86_400 ? 's' : ''}`;
  if (seconds % 3600 === 0) return `${formatInt(seconds / 3600)} h`;
  if (seconds % 60 === 0 && seconds >= 120) return `${formatInt(seconds / 60)} min`;
  return `${formatInt(seconds)} s`;
}

/** "1,000 / 60 s": at most 1,000 requests in any 60 seconds. */
export function formatRate(rate: RateLimit): string {
  return `${formatInt(rate.limit)} / ${formatWindow(rate.windowSeconds)}`;
}

/** "1,000,000 requests and 50 GB per month" (no use): how a quota reads in a dialog. */
export function formatQuota(quota: Quota): string {
  const parts = [
    quota.requests !== undefined && `${formatInt(quota.requests)} requests`,
    quota.volumeBytes !== undefined && formatBytes(quota.volumeBytes),
  ].filter(Boolean);
  const per = quota.period === 'total' ? 'in all' : `per ${quota.period} (UTC)`;
  return `${parts.join(' and ')} ${per}`;
}

/** One limited dimension of a quota: what the period used of what it allows. */
interface Consumption {
  dimension: 'requests' | 'volume';
  used: number;
  allowed: number;
}

function consumptions(quota: QuotaView): Consumption[] {
  const all: Consumption[] = [];
  if (quota.requests !== undefined) {
    all.push({ dimension: 'requests', used: quota.used.requests ?? 0, allowed: quota.requests });
  }
  if (quota.volumeBytes !== undefined) {
    all.push({
      dimension: 'volume',
      used: quota.used.volumeBytes ?? 0,
      allowed: quota.volumeBytes,
    });
  }
  return all;
}

const amount = (c: Consumption, value: number) =>
  c.dimension === 'requests' ? formatInt(value) : formatBytes(value);

/** "quota 1,234 of 1,000,000 this month"; with both dimensions, both. */
export function quotaUseText(quota: QuotaView): string {
  const parts = consumptions(quota).map((c) => `${amount(c, c.used)} of ${amount(c, c.allowed)}`);
  return `quota ${parts.join(' and ')} ${PERIOD_WORDS[quota.period]}`;
}

/** The dimension closest to its limit, as a share of it (0 to 1). */
export function closestToLimit(quota: QuotaView): Consumption & { share: number } {
  const shares = consumptions(quota).map((c) => ({
    ...c,
    share: Math.min(1, Math.max(0, c.used / c.allowed)),
  }));
  return shares.reduce((a, b) => (b.share > a.share ? b : a));
}

/** A share as a label that says 100 % only when the allowance is used up. */
export function percentLabel(share: number): string {
  if (share > 0 && share < 0.01) return '< 1 %';
  return `${Math.floor(share * 100)} %`;
}

/** After a limit the account set: "account default" (a space first, for screen readers). */
function sourceBadge(source: LimitSource): (HTMLElement | string)[] {
  if (source === 'key') return [];
  return [
    ' ',
    h(
      'span',
      {
        class: 'badge default',
        title: 'The account’s default: this key has no limit of its own of this kind.',
      },
      'account default',
    ),
  ];
}

/** "100 % · resets in 12 days" (the exact instant as its title), or "… · never resets". */
function resetOf(quota: QuotaView, share: number, now: number): HTMLElement {
  const percent = h('span', { class: 'percent', 'aria-hidden': 'true' }, percentLabel(share));
  if (quota.resetsAt === null) return h('span', { class: 'reset' }, percent, ' · never resets');
  const left = Math.max(0, Date.parse(quota.resetsAt) - now);
  return h(
    'span',
    { class: 'reset' },
    percent,
    ' · resets in ',
    h('time', { datetime: quota.resetsAt, title: formatUtc(quota.resetsAt) }, formatSpan(left)),
  );
}

/** The bar of the quota's current period: the dimension closest to its limit. */
function quotaBar(quota: QuotaView, share: number, dimension: string): HTMLElement {
  const fill = h('span', { class: 'fill' });
  // The page's CSP allows no style attribute; a property set from script is not one.
  fill.style.width = `${share * 100}%`;
  const tone = share >= 1 ? ' full' : share >= 0.8 ? ' high' : '';
  return h(
    'span',
    {
      class: `quota-bar${tone}`,
      role: 'meter',
      'aria-label': 'Quota used',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': Math.round(share * 1000) / 10,
      'aria-valuetext': `${percentLabel(share)} of the ${dimension} quota used`,
      'data-dimension': dimension,
    },
    fill,
  );
}

/** The key list's Limits cell: "None", or the rate limit and the quota with its bar. */
export function limitsCell(key: ApiKey, now = Date.now()): HTMLElement {
  const { rateLimit, quota } = key;
  if (!rateLimit && !quota) return h('span', { class: 'muted' }, 'None');
  const closest = quota ? closestToLimit(quota) : { share: 0, dimension: 'requests' };
  return h(
    'div',
    { class: 'limits' },
    rateLimit
      ? h(
          'div',
          { class: 'rate', 'data-limit': 'rate', title: 'Rate limit: requests per window' },
          formatRate(rateLimit),
          sourceBadge(rateLimit.source),
        )
      : null,
    quota
      ? h(
          'div',
          { class: 'quota', 'data-limit': 'quota' },
          h('span', { class: 'use' }, quotaUseText(quota), sourceBadge(quota.source)),
          quotaBar(quota, closest.share, closest.dimension),
          resetOf(quota, closest.share, now),
        )
      : null,
  );
}
