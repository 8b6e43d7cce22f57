import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { KEY_CHANGES_APPLICATION_NAME } from '../access/key-change-channel';
import { APP_CONFIG, AppConfig } from '../config/config';
import { DatabaseDriver } from '../prisma/database-driver';

/** How often the number of instances is read again. */
export const PEER_REFRESH_MS = 5000;

/**
 * How many keymeter instances share the database now, so that each admits its share of a rate
 * limit. On PostgreSQL every instance holds one connection listening to key changes, named
 * KEY_CHANGES_APPLICATION_NAME: counting them costs one statement per PEER_REFRESH_MS and no
 * table. SQLite has one instance per file.
 */
@Injectable()
export class PeerInstances implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PeerInstances.name);
  private instances = 1;
  private timer: NodeJS.Timeout | undefined;
  private readonly shared: boolean;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly driver: DatabaseDriver,
  ) {
    this.shared = config.database.provider === 'postgresql';
  }

  get count(): number {
    return this.instances;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.shared) return;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), PEER_REFRESH_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Reads the count now (tests call it after starting or stopping an instance). */
  async refresh(): Promise<void> {
    try {
      const [row] = await this.driver.rows(
        `SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = ?`,
        [KEY_CHANGES_APPLICATION_NAME],
      );
      // This instance's own listener may not be up yet (or be reconnecting): it counts anyway.
      this.instances = Math.max(1, Number(row?.[0] ?? 1));
    } catch (error) {
      this.logger.warn(
        `could not count the instances sharing the database (keeping ${this.instances}): ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }
}
