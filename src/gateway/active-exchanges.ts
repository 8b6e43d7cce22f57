import type { Duplex } from 'node:stream';

/**
 * The gateway's exchanges in flight, so that shutdown ends them in order: stop taking new ones,
 * let those in flight finish, close WebSockets, then wait for any write their record started
 * (strict mode), before the meter writes what is pending.
 */
export class ActiveExchanges {
  private count = 0;
  private idle: (() => void) | null = null;
  private readonly writes = new Set<Promise<void>>();
  private readonly tunnels = new Set<Duplex>();
  draining = false;

  get size(): number {
    return this.count;
  }

  /** Counts an exchange in; the function returned counts it out (once). */
  begin(): () => void {
    this.count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.count--;
      if (this.count === 0) this.idle?.();
    };
  }

  /** A tunnelled socket (an upgrade), closed at shutdown: nothing else would end it. */
  hold(socket: Duplex): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.tunnels.add(socket);
    socket.once('close', () => this.tunnels.delete(socket));
  }

  waitFor(write: Promise<void>): void {
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  /**
   * Resolves once every exchange has ended, or after `graceMs` (then `cut` ends the rest, and
   * their records follow as their sockets close). Tunnels are closed at once.
   */
  async drain(graceMs: number, cut: () => void): Promise<void> {
    this.draining = true;
    for (const socket of this.tunnels) socket.destroy();
    if (this.count > 0) {
      const ended = new Promise<void>((resolve) => (this.idle = resolve));
      const timer = setTimeout(cut, graceMs);
      await ended;
      clearTimeout(timer);
    }
    await Promise.all([...this.writes]);
  }
}
