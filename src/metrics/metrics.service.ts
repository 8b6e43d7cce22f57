import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PrismaService } from '../prisma/prisma.service';
import { UsageMeter } from '../usage/usage-meter.service';

/**
 * Prometheus metrics of this process. HTTP metrics are labelled by route pattern
 * (`/1.0/keys/:key`), never by path or key, so a key in a URL never becomes a label.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'keymeter_http_requests_total',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'keymeter_http_request_duration_seconds',
    help: 'HTTP request duration by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(prisma: PrismaService, meter: UsageMeter) {
    collectDefaultMetrics({ register: this.registry, prefix: 'keymeter_' });
    // Read when scraped: nothing to do on the request path.
    new Counter({
      name: 'keymeter_db_statements_total',
      help: 'SQL statements sent to the database (an unknown key costs one; a cached key none)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(prisma.statements);
      },
    });
    new Gauge({
      name: 'keymeter_usage_pending_buckets',
      help: '(key, minute) usage buckets counted in memory and not yet written',
      registers: [this.registry],
      collect() {
        this.set(meter.pendingBuckets);
      },
    });
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration.observe({ method, route }, seconds);
  }
}
