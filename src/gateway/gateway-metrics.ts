import { Counter, Histogram } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';

/** Why the upstream gave no usable answer. */
export type UpstreamFault = 'refused' | 'reset' | 'timeout' | 'dns' | 'other';

export function upstreamFault(error: unknown): UpstreamFault {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    default:
      return 'other';
  }
}

const statusClass = (status: number): string => `${Math.floor(status / 100)}xx`;

/**
 * The gateway's Prometheus series, labelled by the upstream (host:port) and status class, never
 * by key or path.
 */
export class GatewayMetrics {
  private readonly requests: Counter<'upstream' | 'status_class'>;
  private readonly latency: Histogram<'upstream' | 'status_class'>;
  private readonly errors: Counter<'upstream' | 'reason'>;

  constructor(
    metrics: MetricsService,
    private readonly upstream: string,
  ) {
    const registers = [metrics.registry];
    this.requests = new Counter({
      name: 'keymeter_gateway_requests_total',
      help: 'Requests the gateway answered (upstream answers, 502 and 504) by status class',
      labelNames: ['upstream', 'status_class'] as const,
      registers,
    });
    this.latency = new Histogram({
      name: 'keymeter_gateway_upstream_latency_seconds',
      help: "Time from a gateway request's arrival to the upstream's response headers",
      labelNames: ['upstream', 'status_class'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.errors = new Counter({
      name: 'keymeter_gateway_upstream_errors_total',
      help: 'Upstream connections that failed (refused, reset, timeout, dns, other)',
      labelNames: ['upstream', 'reason'] as const,
      registers,
    });
  }

  /** The series of each status class, bound once: labelling on every call costs a hash. */
  private readonly byClass = new Map<
    number,
    { requests: { inc(): void }; latency: { observe(value: number): void } }
  >();

  answered(status: number, seconds: number): void {
    const statusHundred = Math.floor(status / 100);
    let series = this.byClass.get(statusHundred);
    if (series === undefined) {
      const labels = { upstream: this.upstream, status_class: statusClass(status) };
      series = { requests: this.requests.labels(labels), latency: this.latency.labels(labels) };
      this.byClass.set(statusHundred, series);
    }
    series.requests.inc();
    series.latency.observe(seconds);
  }

  upstreamError(reason: UpstreamFault): void {
    this.errors.inc({ upstream: this.upstream, reason });
  }
}
