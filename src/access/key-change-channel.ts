import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Client } from 'pg';
import { APP_CONFIG, AppConfig } from '../config/config';
import { DatabaseDriver } from '../prisma/database-driver';
import { ACCOUNT_PREFIX, KeyCache } from './key-cache.service';
import { ListenerConnection, ReconnectingListener } from './reconnecting-listener';

/** The PostgreSQL channel on which instances announce a changed key's id. */
export const KEY_CHANGES_CHANNEL = 'keymeter_key_changes';
/** The listening connection's application_name, to tell it apart in pg_stat_activity. */
export const KEY_CHANGES_APPLICATION_NAME = 'keymeter-key-changes';

/**
 * Tells the other instances sharing a PostgreSQL database that a key changed, so that their
 * caches drop it within a round trip instead of after KEY_CACHE_TTL_MS: every eviction of the
 * local KeyCache is published with NOTIFY, and every notification received evicts locally.
 *
 * The listening connection is a client of its own, outside the pool: LISTEN belongs to one
 * session, which the pool would hand to other queries. When it breaks, the cache falls back on
 * the TTL until a new connection listens; then the whole cache is dropped, because whatever was
 * announced in between was missed. SQLite has one instance per file: there is nothing to do.
 */
@Injectable()
export class KeyChangeChannel implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(KeyChangeChannel.name);
  private readonly listener: ReconnectingListener | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly cache: KeyCache,
    private readonly driver: DatabaseDriver,
  ) {
    if (config.database.provider !== 'postgresql') return;
    const url = config.database.url;
    this.listener = new ReconnectingListener({
      open: (lost) => this.listen(url, lost),
      listening: (reconnected) => {
        this.cache.clear();
        if (reconnected)
          this.logger.log('listening to key changes again; the key cache was cleared');
      },
      warn: (message) =>
        this.logger.warn(
          `key changes: ${message}; until then keys are trusted for KEY_CACHE_TTL_MS`,
        ),
    });
    cache.onEvict((keyId) => this.publish(keyId));
  }

  /** Whether changes made by other instances reach this one now (false on SQLite). */
  get listening(): boolean {
    return this.listener?.isListening ?? false;
  }

  /** After every module's init: the driver that publishes is open by then. */
  async onApplicationBootstrap(): Promise<void> {
    await this.listener?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener?.stop();
  }

  /** Fire and forget: the change is committed already, and a request must not fail for this. */
  private publish(keyId: string): void {
    const failed = (error: unknown) =>
      this.logger.warn(
        `could not announce a key change: ${error instanceof Error ? error.message : String(error)}`,
      );
    try {
      this.driver.rows('SELECT pg_notify(?, ?)', [KEY_CHANGES_CHANNEL, keyId]).catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  private async listen(url: string, lost: (error: Error) => void): Promise<ListenerConnection> {
    const client = new Client({
      connectionString: url,
      application_name: KEY_CHANGES_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
    });
    // Attached before connect and never removed: an 'error' event without a listener would end
    // the process, and the server may end this idle connection at any time.
    client.on('error', lost);
    client.on('end', () => lost(new Error('the connection ended')));
    client.on('notification', ({ channel, payload }) => {
      if (channel !== KEY_CHANGES_CHANNEL || !payload) return;
      if (payload.startsWith(ACCOUNT_PREFIX)) {
        this.cache.evictAccountLocally(payload.slice(ACCOUNT_PREFIX.length));
      } else this.cache.evictLocally(payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return { close: () => client.end() };
  }
}
