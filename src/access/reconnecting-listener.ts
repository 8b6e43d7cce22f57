/** A connection that listens, as ReconnectingListener sees it: it only ever closes it. */
export interface ListenerConnection {
  close(): Promise<void>;
}

export interface ListenerHooks {
  /**
   * Opens a connection and starts listening. `lost` is to be called when the connection breaks
   * afterwards (an error, its end): more than once, or during the open, is harmless.
   */
  open(lost: (error: Error) => void): Promise<ListenerConnection>;
  /** Listening (again): whatever was announced while not listening was missed. */
  listening(reconnected: boolean): void;
  warn(message: string): void;
}

export interface Backoff {
  firstMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { firstMs: 100, maxMs: 5000 };

/** The wait before reconnect attempt `attempt` (0 first): doubling from firstMs up to maxMs. */
export function reconnectDelay(attempt: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(backoff.firstMs * 2 ** Math.min(attempt, 30), backoff.maxMs);
}

/**
 * Keeps one listening connection open: opens it, and after it fails or breaks opens a new one
 * with a growing wait, until stop(). Knows nothing of the database, so it can be tested alone.
 *
 * The wait starts over only once a connection has stayed up for backoff.maxMs, so that a server
 * that accepts the connection and drops it at once is not asked ten times a second.
 */
export class ReconnectingListener {
  private connection: ListenerConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by every open and every loss: a late answer of an older attempt is dropped. */
  private generation = 0;
  private attempt = 0;
  private connectedAt = 0;
  private connectedOnce = false;
  private stopped = false;

  constructor(
    private readonly hooks: ListenerHooks,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a connection is listening now. */
  get isListening(): boolean {
    return this.connection !== undefined;
  }

  /** The first attempt: resolves with whether it listens (if not, it keeps trying). */
  start(): Promise<boolean> {
    this.stopped = false;
    return this.connect();
  }

  /** Closes the connection, if any, and stops trying; waits at most `timeoutMs` for the close. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await closeWithin(connection, timeoutMs);
  }

  private async connect(): Promise<boolean> {
    const generation = ++this.generation;
    let connection: ListenerConnection;
    try {
      connection = await this.hooks.open((error) => this.lost(generation, error));
    } catch (error) {
      // A loss reported during the open has already scheduled the next attempt.
      if (this.stopped || generation !== this.generation) return false;
      this.retry(`cannot listen (${message(error)})`);
      return false;
    }
    if (this.stopped || generation !== this.generation) {
      void closeWithin(connection, 2000);
      return false;
    }
    this.connection = connection;
    this.connectedAt = this.now();
    const reconnected = this.connectedOnce;
    this.connectedOnce = true;
    this.hooks.listening(reconnected);
    return true;
  }

  private lost(generation: number, error: Error): void {
    if (this.stopped || generation !== this.generation) return;
    this.generation++;
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      if (this.now() - this.connectedAt >= this.backoff.maxMs) this.attempt = 0;
      void closeWithin(connection, 2000);
    }
    this.retry(`the listening connection was lost (${error.message})`);
  }

  private retry(why: string): void {
    const delay = reconnectDelay(this.attempt++, this.backoff);
    this.hooks.warn(`${why}; trying again in ${delay} ms`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
    // A server has other handles; a test that forgot stop() must not be held open by this.
    this.timer.unref();
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Closes without throwing and without waiting on a connection that never answers. */
async function closeWithin(connection: ListenerConnection, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  const closed = (async () => connection.close())().catch(() => undefined);
  await Promise.race([closed, timeout]);
  clearTimeout(timer);
}
