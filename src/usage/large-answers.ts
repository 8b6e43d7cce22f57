import { HttpException, HttpStatus } from '@nestjs/common';

/** Answers of more points than this are large: a week of minutes is 10,080. */
export const LARGE_ANSWER_POINTS = 10_000;

/** 503 with the seconds to wait; the error filter turns it into a Retry-After header. */
export class TooManyLargeAnswersException extends HttpException {
  readonly retryAfterSeconds = 1;

  constructor() {
    super(
      'too many large usage answers are being built right now; retry in 1 s, or ask for a ' +
        'shorter range or a coarser interval',
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}

/**
 * Bounds how many large usage answers are built at once. Each one reads and serialises
 * hundreds of thousands of points on the event loop; past `limit` in flight a new one is
 * refused at once, so that small requests (health checks, metered traffic) keep their latency.
 */
export class LargeAnswers {
  private inFlight = 0;

  constructor(private readonly limit: number) {}

  /** Admits an answer of `points` points; call the returned function when it is sent. */
  admit(points: number): () => void {
    if (points <= LARGE_ANSWER_POINTS) return noop;
    if (this.inFlight >= this.limit) throw new TooManyLargeAnswersException();
    this.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
    };
  }
}

function noop(): void {}
