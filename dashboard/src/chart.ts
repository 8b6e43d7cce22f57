import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Interval, UsagePoint } from './api';
import { formatBytes, formatInt } from './format';

const REQUESTS_COLOR = '#3056d3';
const VOLUME_COLOR = '#c2570c';
const REFUSED_COLOR = '#b42318';

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

/**
 * Requests (bars, left axis) and volume (line, right axis) per bucket; with `refused`, the
 * requests a limit refused too (a dashed line on the requests axis). uPlot draws on a canvas
 * and stays fast with the ~130,000 buckets of a 92-day minute series; all dates are UTC, like
 * the API's buckets.
 */
export function drawUsageChart(
  container: HTMLElement,
  points: UsagePoint[],
  interval: Interval,
  refused = false,
): UsageChart {
  const xs = points.map((p) => Date.parse(p.bucket) / 1000);
  const counts = points.map((p) => p.count);
  const volumes = points.map((p) => p.volume);
  const width = Math.max(container.clientWidth, 280);
  const bars = uPlot.paths.bars?.({ size: [0.7, 48], align: 1 });
  const data: uPlot.AlignedData = [xs, counts, volumes];

  const options: uPlot.Options = {
    width,
    height: heightFor(width),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    cursor: { points: { size: 8 } },
    legend: { live: true },
    scales: {
      // Each bar starts at its bucket's start, so the last one needs a bucket of room.
      x: { time: true, range: () => [xs[0], xs[xs.length - 1] + STEP_S[interval]] },
      requests: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] },
      bytes: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] },
    },
    series: [
      { label: 'Bucket', value: LEGEND_DATE[interval] },
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
      {
        label: 'Volume',
        scale: 'bytes',
        stroke: VOLUME_COLOR,
        width: 2,
        points: { show: points.length <= 120, size: 5, fill: VOLUME_COLOR },
        value: (_u, v) => (v === null ? '–' : formatBytes(v)),
      },
    ],
    axes: [
      { stroke: '#4a5263', grid: { stroke: '#eceef3' }, ticks: { stroke: '#dfe2e8' } },
      {
        scale: 'requests',
        label: 'Requests',
        stroke: REQUESTS_COLOR,
        grid: { stroke: '#eceef3' },
        ticks: { stroke: '#dfe2e8' },
        size: 56,
        values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? formatInt(t) : '')),
      },
      {
        scale: 'bytes',
        label: 'Volume',
        side: 1,
        stroke: VOLUME_COLOR,
        grid: { show: false },
        ticks: { stroke: '#dfe2e8' },
        size: 72,
        values: (_u, ticks) => ticks.map((t) => formatBytes(Math.round(t))),
      },
    ],
  };

  if (refused) {
    options.series.push({
      label: 'Refused',
      scale: 'requests',
      stroke: REFUSED_COLOR,
      width: 2,
      dash: [6, 4],
      points: { show: points.length <= 120, size: 5, fill: REFUSED_COLOR },
      value: (_u, v) => (v === null ? '–' : formatInt(v)),
    });
    data.push(points.map((p) => p.refused ?? 0));
  }
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
