import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/** When the response's request arrived (performance.now(), ms). */
const STARTED_MS = Symbol('keymeter.metrics.startedMs');

type TimedResponse = Response & { [STARTED_MS]: number };

@Injectable()
export class MetricsMiddleware implements NestMiddleware {
  /**
   * One 'finish' listener shared by every response (it finds its request and start time on the
   * response), instead of a closure and a once() wrapper per request; performance.now() instead
   * of hrtime BigInt arithmetic.
   */
  private readonly observe: (this: TimedResponse) => void;

  constructor(metrics: MetricsService) {
    this.observe = function (this: TimedResponse): void {
      const req = this.req;
      // req.route is Express's matched pattern; unmatched requests share one label.
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const seconds = (performance.now() - this[STARTED_MS]) / 1000;
      metrics.observe(req.method, route, this.statusCode, seconds);
    };
  }

  use(_req: Request, res: Response, next: NextFunction): void {
    (res as TimedResponse)[STARTED_MS] = performance.now();
    // 'finish' is emitted once per response, so on() needs no once() wrapper.
    res.on('finish', this.observe);
    next();
  }
}
