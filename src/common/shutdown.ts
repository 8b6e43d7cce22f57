import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * Once shutdown begins, every response asks its client to close the connection, so that
 * keep-alive clients cannot hold the server open past SIGTERM: the server then finishes the
 * requests in flight, closes, and the meter writes what is pending.
 */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  private draining = false;

  beforeApplicationShutdown(): void {
    this.draining = true;
  }

  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    if (this.draining) res.setHeader('Connection', 'close');
    next();
  };
}
