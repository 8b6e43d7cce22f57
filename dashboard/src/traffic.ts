import type { TrafficPoint } from './api';

/** Responses a bucket classed by status (2xx to 5xx): the denominator of its rates and means. */
export function responsesOf(p: TrafficPoint): number {
  return p.status2xx + p.status3xx + p.status4xx + p.status5xx;
}

/** The share of a bucket's responses that were errors (4xx or 5xx); null without responses. */
export function errorRateOf(p: TrafficPoint): number | null {
  const responses = responsesOf(p);
  return responses === 0 ? null : (p.status4xx + p.status5xx) / responses;
}

/** The share of a bucket's responses that were server errors (5xx); null without responses. */
export function serverErrorRateOf(p: TrafficPoint): number | null {
  const responses = responsesOf(p);
  return responses === 0 ? null : p.status5xx / responses;
}

export interface TrafficTotals {
  requests: number;
  volume: number;
  volumeOut: number;
  refused: number;
  responses: number;
  /** 4xx and 5xx responses. */
  errors: number;
  serverErrors: number;
  /** errors / responses; null when the range had no responses. */
  errorRate: number | null;
  /** The range's mean latency in ms; null when it had no responses. */
  latencyMsAvg: number | null;
  /** The range's worst latency in ms; null when it had no responses. */
  latencyMsMax: number | null;
}

/** The range's totals, as the usage view shows them under the charts. */
export function trafficTotals(points: TrafficPoint[]): TrafficTotals {
  const totals = { requests: 0, volume: 0, volumeOut: 0, refused: 0, responses: 0 };
  let errors = 0;
  let serverErrors = 0;
  let weightedLatency = 0;
  let weight = 0;
  let worst: number | null = null;
  for (const p of points) {
    const responses = responsesOf(p);
    totals.requests += p.count;
    totals.volume += p.volume;
    totals.volumeOut += p.volumeOut;
    totals.refused += p.refused;
    totals.responses += responses;
    errors += p.status4xx + p.status5xx;
    serverErrors += p.status5xx;
    // The API gives each bucket's mean, not its sum: weighting it by the bucket's responses
    // gives back the range's mean. Close enough rather than exact: the mean is rounded to
    // 3 decimals, and a response outside the four classes (a WebSocket's 101) counts in the
    // API's mean but not in this weight.
    if (p.latencyMsAvg !== null && responses > 0) {
      weightedLatency += p.latencyMsAvg * responses;
      weight += responses;
    }
    if (p.latencyMsMax !== null && (worst === null || p.latencyMsMax > worst)) {
      worst = p.latencyMsMax;
    }
  }
  return {
    ...totals,
    errors,
    serverErrors,
    errorRate: totals.responses === 0 ? null : errors / totals.responses,
    latencyMsAvg: weight === 0 ? null : weightedLatency / weight,
    latencyMsMax: worst,
  };
}
