// Must come first: it chooses the better-sqlite3 build before Prisma's adapter loads it.
import './sqlite-driver';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient as SqliteClient } from '../../prisma/generated/sqlite';
import { PrismaClient as PostgresClient } from '../../prisma/generated/postgresql';
import { APP_CONFIG, AppConfig, DatabaseConfig } from '../config/config';
import { migrate } from './migrator';

/**
 * Both generated clients are built from one datamodel, so their model APIs are identical; the
 * SQLite client's types stand for both.
 */
export type Db = SqliteClient;
export type Dialect = DatabaseConfig['provider'];

export function createClient(database: DatabaseConfig): Db {
  if (database.provider === 'sqlite') {
    return new SqliteClient({
      adapter: new PrismaBetterSQLite3({ url: database.file, timeout: 5000 }),
    });
  }
  return new PostgresClient({
    adapter: new PrismaPg({ connectionString: database.url }),
  }) as unknown as Db;
}

/** The one database connection of the process, chosen from DATABASE_URL at start-up. */
@Injectable()
export class PrismaService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PrismaService.name);
  readonly db: Db;
  readonly dialect: Dialect;
  private readonly drains: (() => Promise<void>)[] = [];

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.dialect = config.database.provider;
    this.db = createClient(config.database);
  }

  async onModuleInit(): Promise<void> {
    try {
      if (this.config.migrateOnStart) {
        const applied = await migrate(this.config.database);
        if (applied.length > 0) this.logger.log(`Applied migrations: ${applied.join(', ')}`);
      }
      await this.db.$connect();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot use the database (${this.describe()}): ${why}`);
    }
    if (this.dialect === 'sqlite') {
      // Per connection: cascades (deleting a key deletes its usage) need foreign keys on.
      await this.db.$executeRawUnsafe('PRAGMA foreign_keys = ON');
    }
    this.logger.log(`Connected to ${this.describe()}`);
  }

  /** Work that needs the database one last time before it closes (pending usage). */
  beforeDisconnect(drain: () => Promise<void>): void {
    this.drains.push(drain);
  }

  /** Last of the shutdown: after the HTTP server has finished its in-flight requests. */
  async onApplicationShutdown(): Promise<void> {
    for (const drain of this.drains) await drain();
    await this.db.$disconnect();
  }

  /** Where the data lives, without credentials (for logs and /health). */
  describe(): string {
    const { database } = this.config;
    if (database.provider === 'sqlite') return `SQLite at ${database.file}`;
    const url = new URL(database.url);
    return `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`;
  }
}
