/**
 * Keeps reads of usage and the commit of a flush apart. A read adds the database's rows to the
 * counts this instance holds in memory; if a flush committed in the middle of a read, the read
 * could count that batch twice (or not at all). Reads run together; a write waits for the
 * reads in progress and holds new ones back until it is done. Both sides are short (one query,
 * one transaction), so nobody waits long.
 */
export class ReadWriteGate {
  private readers = 0;
  private writing: Promise<void> | null = null;
  private readersDone: (() => void) | null = null;

  async read<T>(run: () => Promise<T>): Promise<T> {
    while (this.writing) await this.writing;
    this.readers++;
    try {
      return await run();
    } finally {
      this.readers--;
      if (this.readers === 0) this.readersDone?.();
    }
  }

  async write<T>(run: () => Promise<T>): Promise<T> {
    while (this.writing) await this.writing;
    let release!: () => void;
    this.writing = new Promise<void>((resolve) => (release = resolve));
    try {
      if (this.readers > 0) {
        await new Promise<void>((resolve) => (this.readersDone = resolve));
        this.readersDone = null;
      }
      return await run();
    } finally {
      this.writing = null;
      release();
    }
  }
}
