import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Interval, TrafficPoint } from './api';
import { formatBytes, formatInt, formatMs, formatPercent } from './format';
import { errorRateOf, serverErrorRateOf } from './traffic';

const REQUESTS_COLOR = '#3056d3';
const VOLUME_COLOR = '#c2570c';
const VOLUME_OUT_COLOR = '#0f766e';
const REFUSED_COLOR = '#b42318';
const ERRORS_COLOR = '#c01048';
const SERVER_ERRORS_COLOR = '#7a271a';
const LATENCY_COLOR = '#6941c6';
const LATENCY_MAX_COLOR = '#9e77ed';
const GRID = { stroke: '#eceef3' };
const TICKS = { stroke: '#dfe2e8' };

/** How the cursor's bucket reads in the legend, per interval (all UTC). */
const LEGEND_DATE: Record<Interval, string> = {
  minute: '{YYYY}-{MM}-{DD} {HH}:{mm} UTC',
  hour: '{YYYY}-{MM}-{DD} {HH}:00 UTC',
  day: '{YYYY}-{MM}-{DD}',
  week: 'week of {YYYY}-{MM}-{DD}',
  month: '{MMMM} {YYYY}',
};

export interface UsageChart {
  destroy(): void;
}

const heightFor = (width: number) => (width < 520 ? 240 : 320);

/** A bucket's length in seconds (months: an average one), to leave room for the last bar. */
const STEP_S: Record<Interval, number> = {
  minute: 60,
  hour: 3600,
  day: 86_400,
  week: 604_800,
  month: 2_629_800,
};

/** From 0 to a tenth above the highest value (1 when there is none, or only zeros). */
const fromZero: uPlot.Scale.Range = (_u, _min, max) => [
  0,
  Number.isFinite(max) && max > 0 ? max * 1.1 : 1,
];

/** A line series whose points show while there are few enough buckets to tell apart. */
function line(
  label: string,
  scale: string,
  color: string,
  buckets: number,
  value: (v: number) => string,
  dash?: number[],
): uPlot.Series {
  return {
    label,
    scale,
    stroke: color,
    width: 2,
    dash,
    points: { show: buckets <= 120, size: 5, fill: color },
    value: (_u, v) => (v === null ? '–' : value(v)),
  };
}

/** What both charts share: the UTC time axis, the size, and one cursor for both. */
function baseOptions(
  width: number,
  xs: number[],
  interval: Interval,
  scales: uPlot.Scales,
  series: uPlot.Series[],
  axes: uPlot.Axis[],
): uPlot.Options {
  return {
    width,
    height: heightFor(width),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    // The two charts of a range move their cursors together: one bucket reads across both.
    cursor: { points: { size: 8 }, sync: { key: 'usage' } },
    legend: { live: true },
    scales: {
      // Each bar starts at its bucket's start, so the last one needs a bucket of room.
      x: { time: true, range: () => [xs[0], xs[xs.length - 1] + STEP_S[interval]] },
      ...scales,
    },
    series: [{ label: 'Bucket', value: LEGEND_DATE[interval] }, ...series],
    axes: [{ stroke: '#4a5263', grid: GRID, ticks: TICKS }, ...axes],
  };
}

/** Draws the plot and keeps it as wide as its container. */
function mount(
  container: HTMLElement,
  options: uPlot.Options,
  data: uPlot.AlignedData,
): UsageChart {
  const plot = new uPlot(options, data, container);
  const observer = new ResizeObserver(() => {
    const w = Math.max(container.clientWidth, 280);
    if (w !== plot.width) plot.setSize({ width: w, height: heightFor(w) });
  });
  observer.observe(container);
  return {
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}

/**
 * Requests (bars, left axis), volume in and out (lines, right axis) per bucket; with `refused`,
 * the requests a limit refused too (a dashed line on the requests axis). uPlot draws on a canvas
 * and stays fast with the ~130,000 buckets of a 92-day minute series; all dates are UTC, like
 * the API's buckets.
 */
export function drawUsageChart(
  container: HTMLElement,
  points: TrafficPoint[],
  interval: Interval,
  refused = false,
): UsageChart {
  const xs = points.map((p) => Date.parse(p.bucket) / 1000);
  const width = Math.max(container.clientWidth, 280);
  const bars = uPlot.paths.bars?.({ size: [0.7, 48], align: 1 });
  const data: uPlot.AlignedData = [
    xs,
    points.map((p) => p.count),
    points.map((p) => p.volume),
    points.map((p) => p.volumeOut),
  ];
  const series: uPlot.Series[] = [
    {
      label: 'Requests',
      scale: 'requests',
      stroke: REQUESTS_COLOR,
      fill: 'rgba(48, 86, 211, 0.35)',
      width: 1,
      paths: bars,
      points: { show: false },
      value: (_u, v) => (v === null ? '–' : formatInt(v)),
    },
    line('Volume in', 'bytes', VOLUME_COLOR, points.length, formatBytes),
    line('Volume out', 'bytes', VOLUME_OUT_COLOR, points.length, formatBytes, [2, 3]),
  ];
  if (refused) {
    series.push(line('Refused', 'requests', REFUSED_COLOR, points.length, formatInt, [6, 4]));
    data.push(points.map((p) => p.refused));
  }
  const options = baseOptions(
    width,
    xs,
    interval,
    { requests: { range: fromZero }, bytes: { range: fromZero } },
    series,
    [
      {
        scale: 'requests',
        label: 'Requests',
        stroke: REQUESTS_COLOR,
        grid: GRID,
        ticks: TICKS,
        size: 56,
        values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? formatInt(t) : '')),
      },
      {
        scale: 'bytes',
        label: 'Volume',
        side: 1,
        stroke: VOLUME_COLOR,
        grid: { show: false },
        ticks: TICKS,
        size: 72,
        values: (_u, ticks) => ticks.map((t) => formatBytes(Math.round(t))),
      },
    ],
  );
  return mount(container, options, data);
}

/**
 * The answers per bucket: the share of errors (4xx and 5xx) and of server errors (5xx) on the
 * left axis, the mean and worst latency on the right one. A bucket without responses has no
 * rate and no latency: the lines break there rather than dropping to 0.
 */
export function drawTrafficChart(
  container: HTMLElement,
  points: TrafficPoint[],
  interval: Interval,
): UsageChart {
  const xs = points.map((p) => Date.parse(p.bucket) / 1000);
  const width = Math.max(container.clientWidth, 280);
  const percent = (ratio: number | null) => (ratio === null ? null : ratio * 100);
  const data: uPlot.AlignedData = [
    xs,
    points.map((p) => percent(errorRateOf(p))),
    points.map((p) => percent(serverErrorRateOf(p))),
    points.map((p) => p.latencyMsAvg),
    points.map((p) => p.latencyMsMax),
  ];
  const asPercent = (v: number) => formatPercent(v / 100);
  const n = points.length;
  const options = baseOptions(
    width,
    xs,
    interval,
    { rate: { range: fromZero }, ms: { range: fromZero } },
    [
      line('Error rate', 'rate', ERRORS_COLOR, n, asPercent),
      line('5xx rate', 'rate', SERVER_ERRORS_COLOR, n, asPercent, [6, 4]),
      line('Latency avg', 'ms', LATENCY_COLOR, n, formatMs),
      line('Latency max', 'ms', LATENCY_MAX_COLOR, n, formatMs, [2, 3]),
    ],
    [
      {
        scale: 'rate',
        label: 'Errors',
        stroke: ERRORS_COLOR,
        grid: GRID,
        ticks: TICKS,
        size: 56,
        values: (_u, ticks) => ticks.map((t) => asPercent(t)),
      },
      {
        scale: 'ms',
        label: 'Latency',
        side: 1,
        stroke: LATENCY_COLOR,
        grid: { show: false },
        ticks: TICKS,
        size: 72,
        values: (_u, ticks) => ticks.map((t) => formatMs(t)),
      },
    ],
  );
  return mount(container, options, data);
}
