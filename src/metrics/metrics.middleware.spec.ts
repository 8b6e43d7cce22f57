import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import { MetricsMiddleware } from './metrics.middleware';
import type { PrismaService } from '../prisma/prisma.service';
import type { UsageMeter } from '../usage/usage-meter.service';
import { MetricsService } from './metrics.service';

/** A request that ends with `status` on `route`, as Express leaves it on the response. */
function exchange(method: string, route: string | undefined, status: number) {
  const req = { method, route: route === undefined ? undefined : { path: route } };
  const res = Object.assign(new EventEmitter(), { req, statusCode: status });
  return { req: req as unknown as Request, res: res as unknown as Response & EventEmitter };
}

async function value(metrics: MetricsService, name: string, labels: Record<string, string>) {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((entry) =>
    Object.entries(labels).every(([label, v]) => entry.labels[label] === v),
  );
  return match?.value;
}

/** The service with the two database-side gauges at rest: this spec is about HTTP metrics. */
const newMetrics = () =>
  new MetricsService({ statements: 0 } as PrismaService, { pendingBuckets: 0 } as UsageMeter);

describe(MetricsMiddleware.name, () => {
  it('counts each finished response once, by method, route pattern and status', async () => {
    const metrics = newMetrics();
    const middleware = new MetricsMiddleware(metrics);
    const next = jest.fn();
    const first = exchange('GET', '/1.0/keys/:key', 200);
    const second = exchange('GET', undefined, 404);

    middleware.use(first.req, first.res, next);
    middleware.use(second.req, second.res, next);
    expect(next).toHaveBeenCalledTimes(2);
    first.res.emit('finish');
    second.res.emit('finish');

    const counted = { method: 'GET', route: '/1.0/keys/:key', status: '200' };
    expect(await value(metrics, 'keymeter_http_requests_total', counted)).toBe(1);
    expect(
      await value(metrics, 'keymeter_http_requests_total', { route: 'unmatched', status: '404' }),
    ).toBe(1);
    const durations = { method: 'GET', route: '/1.0/keys/:key', le: '+Inf' } as const;
    expect(await value(metrics, 'keymeter_http_request_duration_seconds', durations)).toBe(1);
  });

  it('measures the time from the request to the end of the response', async () => {
    const metrics = newMetrics();
    const middleware = new MetricsMiddleware(metrics);
    const { req, res } = exchange('POST', '/x', 201);

    middleware.use(req, res, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
    res.emit('finish');

    const metric = await metrics.registry
      .getSingleMetric('keymeter_http_request_duration_seconds')
      ?.get();
    // A histogram's values carry the name of the series (_bucket, _sum, _count) they belong to.
    const named = (metric?.values ?? []) as { metricName?: string; value: number }[];
    const sum = named.find((entry) => entry.metricName?.endsWith('_sum'))?.value ?? 0;
    expect(sum).toBeGreaterThanOrEqual(0.025);
    expect(sum).toBeLessThan(5);
  });
});
