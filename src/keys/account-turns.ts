/**
 * Work per account, one at a time on this instance: the key creations and rolls of an account
 * take turns, so that parallel requests cannot all pass the MAX_KEYS_PER_ACCOUNT count.
 */
export class AccountTurns {
  private readonly running = new Map<string, Promise<unknown>>();

  run<T>(accountId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.running.get(accountId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.running.set(accountId, next);
    const forget = () => {
      if (this.running.get(accountId) === next) this.running.delete(accountId);
    };
    next.then(forget, forget);
    return next;
  }
}
