import {
  ListenerConnection,
  ListenerHooks,
  ReconnectingListener,
  reconnectDelay,
} from './reconnecting-listener';

/** A fake server: each open takes the next planned outcome; lost() breaks the open connection. */
class FakeServer {
  readonly outcomes: ('ok' | 'fail')[] = [];
  opens = 0;
  closes = 0;
  listened: boolean[] = [];
  warnings: string[] = [];
  private lostCallback: ((error: Error) => void) | undefined;

  hooks(): ListenerHooks {
    return {
      open: (lost) => {
        this.opens++;
        if ((this.outcomes.shift() ?? 'ok') === 'fail') {
          return Promise.reject(new Error('connection refused'));
        }
        this.lostCallback = lost;
        const connection: ListenerConnection = {
          close: () => {
            this.closes++;
            return Promise.resolve();
          },
        };
        return Promise.resolve(connection);
      },
      listening: (reconnected) => this.listened.push(reconnected),
      warn: (message) => this.warnings.push(message),
    };
  }

  breakConnection(): void {
    this.lostCallback?.(new Error('terminating connection due to administrator command'));
  }
}

describe(reconnectDelay.name, () => {
  it('doubles from 100 ms up to 5 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 100].map((n) => reconnectDelay(n))).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000,
    ]);
  });
});

describe(ReconnectingListener.name, () => {
  let clock = 0;
  beforeEach(() => {
    jest.useFakeTimers();
    clock = 0;
  });
  afterEach(() => jest.useRealTimers());

  /** Advances fake time and lets the promises it releases settle. */
  const advance = async (ms: number) => {
    clock += ms;
    await jest.advanceTimersByTimeAsync(ms);
  };

  it('listens at start and reports the first connection as not a reconnection', async () => {
    const server = new FakeServer();
    const listener = new ReconnectingListener(server.hooks(), undefined, () => clock);
    await expect(listener.start()).resolves.toBe(true);
    expect(listener.isListening).toBe(true);
    expect(server.listened).toEqual([false]);
    await listener.stop();
  });

  it('reconnects 100 ms after the connection is lost and reports a reconnection', async () => {
    const server = new FakeServer();
    const listener = new ReconnectingListener(server.hooks(), undefined, () => clock);
    await listener.start();
    server.breakConnection();
    expect(listener.isListening).toBe(false);
    expect(server.closes).toBe(1);
    expect(server.warnings).toEqual([expect.stringContaining('trying again in 100 ms')]);
    await advance(99);
    expect(server.opens).toBe(1);
    await advance(1);
    expect(server.opens).toBe(2);
    expect(listener.isListening).toBe(true);
    expect(server.listened).toEqual([false, true]);
    await listener.stop();
  });

  it('waits twice as long after each failed attempt, up to 5 s', async () => {
    const server = new FakeServer();
    server.outcomes.push('fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail');
    const listener = new ReconnectingListener(server.hooks(), undefined, () => clock);
    await expect(listener.start()).resolves.toBe(false);
    const waits = [100, 200, 400, 800, 1600, 3200, 5000, 5000];
    for (const wait of waits) {
      const opens = server.opens;
      await advance(wait - 1);
      expect(server.opens).toBe(opens);
      await advance(1);
      expect(server.opens).toBe(opens + 1);
    }
    expect(listener.isListening).toBe(true);
    // Never listened before: not a reconnection.
    expect(server.listened).toEqual([false]);
    await listener.stop();
  });

  it('starts the waits over only after a connection stayed up for 5 s', async () => {
    const server = new FakeServer();
    server.outcomes.push('ok', 'fail', 'fail', 'ok', 'ok');
    const listener = new ReconnectingListener(server.hooks(), undefined, () => clock);
    await listener.start();
    server.breakConnection();
    await advance(100 + 200 + 400); // two failures, then listening again
    expect(server.opens).toBe(4);
    expect(listener.isListening).toBe(true);
    // Dropped again at once: the wait keeps growing.
    server.breakConnection();
    expect(server.warnings.at(-1)).toContain('trying again in 800 ms');
    await advance(800);
    expect(listener.isListening).toBe(true);
    await advance(5000);
    server.breakConnection();
    expect(server.warnings.at(-1)).toContain('trying again in 100 ms');
    await listener.stop();
  });

  it('ignores a loss reported twice (an error, then the end)', async () => {
    const server = new FakeServer();
    const listener = new ReconnectingListener(server.hooks(), undefined, () => clock);
    await listener.start();
    server.breakConnection();
    server.breakConnection();
    expect(server.warnings).toHaveLength(1);
    await advance(100);
    expect(server.opens).toBe(2);
    await listener.stop();
  });

  it('closes the connection on stop and never reconnects afterwards', async () => {
    const server = new FakeServer();
    const listener = new ReconnectingListener(server.hooks(), undefined, () => clock);
    await listener.start();
    await listener.stop();
    expect(server.closes).toBe(1);
    server.breakConnection();
    await advance(10_000);
    expect(server.opens).toBe(1);
    expect(server.warnings).toEqual([]);
  });

  it('cancels a pending reconnect on stop', async () => {
    const server = new FakeServer();
    const listener = new ReconnectingListener(server.hooks(), undefined, () => clock);
    await listener.start();
    server.breakConnection();
    await listener.stop();
    await advance(10_000);
    expect(server.opens).toBe(1);
  });

  it('does not wait on a close that never finishes', async () => {
    const listener = new ReconnectingListener(
      {
        open: () => Promise.resolve({ close: () => new Promise<void>(() => {}) }),
        listening: () => {},
        warn: () => {},
      },
      undefined,
      () => clock,
    );
    await listener.start();
    let stopped = false;
    const stopping = listener.stop(2000).then(() => (stopped = true));
    await advance(1999);
    expect(stopped).toBe(false);
    await advance(1);
    await stopping;
    expect(stopped).toBe(true);
  });
});
