// Must come first: it chooses the better-sqlite3 build before Prisma's adapter loads it.
import './sqlite-driver';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type {
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlQueryable,
} from '@prisma/driver-adapter-utils';
import type { Pool } from 'pg';
import { PrismaClient as SqliteClient } from '../../prisma/generated/sqlite';
import { PrismaClient as PostgresClient } from '../../prisma/generated/postgresql';
import { APP_CONFIG, AppConfig, DatabaseConfig } from '../config/config';
import { DatabaseDriver } from './database-driver';
import { postgresPool } from './driver';
import { migrate } from './migrator';

/**
 * Both generated clients are built from one datamodel, so their model APIs are identical; the
 * SQLite client's types stand for both.
 */
export type Db = SqliteClient;
export type Dialect = DatabaseConfig['provider'];

export function createClient(
  database: DatabaseConfig,
  onStatement: () => void = () => {},
  pool?: Pool,
): Db {
  if (database.provider === 'sqlite') {
    return new SqliteClient({
      adapter: counting(
        new PrismaBetterSQLite3({ url: database.file, timeout: 5000 }),
        onStatement,
      ),
    });
  }
  return new PostgresClient({
    adapter: counting(new PrismaPg(pool ?? { connectionString: database.url }), onStatement),
  }) as unknown as Db;
}

/** Calls `onStatement` for every statement Prisma sends, in and out of transactions. */
function counting<F extends SqlDriverAdapterFactory>(factory: F, onStatement: () => void): F {
  const count = <Q extends SqlQueryable>(queryable: Q): Q => {
    const { queryRaw, executeRaw } = queryable;
    queryable.queryRaw = (query) => (onStatement(), queryRaw.call(queryable, query));
    queryable.executeRaw = (query) => (onStatement(), executeRaw.call(queryable, query));
    return queryable;
  };
  const connect = factory.connect.bind(factory);
  factory.connect = async (): Promise<SqlDriverAdapter> => {
    const adapter = count(await connect());
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolation) => count(await startTransaction(isolation));
    return adapter;
  };
  return factory;
}

/** The one database connection of the process, chosen from DATABASE_URL at start-up. */
@Injectable()
export class PrismaService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PrismaService.name);
  readonly db: Db;
  readonly dialect: Dialect;
  private readonly drains: (() => Promise<void>)[] = [];
  private readonly pool: Pool | undefined;
  private statementCount = 0;
  private readonly countStatement = (): void => void this.statementCount++;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly driver: DatabaseDriver,
  ) {
    this.dialect = config.database.provider;
    // One pool for Prisma's adapter and the driver.
    if (config.database.provider === 'postgresql') this.pool = postgresPool(config.database);
    this.db = createClient(config.database, this.countStatement, this.pool);
  }

  /** Statements sent to the database since start: Prisma's and the driver's (/metrics). */
  get statements(): number {
    return this.statementCount;
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
    const { database } = this.config;
    if (database.provider === 'sqlite') {
      // Per connection: cascades (deleting a key deletes its usage) need foreign keys on.
      await this.db.$executeRawUnsafe('PRAGMA foreign_keys = ON');
      // A commit survives power loss, not only a crash of the process (better-sqlite3 builds
      // WAL databases with NORMAL): one fsync per flush, or per request in strict mode, which
      // is what strict mode is for.
      await this.db.$executeRawUnsafe('PRAGMA synchronous = FULL');
    }
    this.driver.open(database, this.pool, this.countStatement);
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
    await this.driver.close();
  }

  /** Where the data lives, without credentials (for logs and /health). */
  describe(): string {
    const { database } = this.config;
    if (database.provider === 'sqlite') return `SQLite at ${database.file}`;
    const url = new URL(database.url);
    return `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`;
  }
}
