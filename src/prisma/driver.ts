import { Logger } from '@nestjs/common';
import type BetterSqlite3 from 'better-sqlite3';
import { Pool } from 'pg';
import type { DatabaseConfig } from '../config/config';
import { sqliteDatabase } from './sqlite-driver';

/**
 * Reads on the database driver itself, for the few hot paths where Prisma 6's query compiler
 * costs more than the query: it compiles every query in WebAssembly on the event loop, with no
 * plan cache (~680 µs for a key lookup against ~6 µs for a prepared statement). Each SQL text
 * is prepared once and reused; rows come back as arrays of column values, in column order.
 *
 * SQL is written with `?` placeholders, in the order of `params`; PostgreSQL gets `$1..$n`.
 * Integer columns come back as numbers on SQLite and as strings for BIGINT on PostgreSQL, so
 * callers convert with Number(). Everything else goes through Prisma.
 */
export interface DriverReads {
  rows(sql: string, params: readonly unknown[]): Promise<unknown[][]>;
  close(): Promise<void>;
}

/** `?` → `$1..$n`, for PostgreSQL. keymeter's SQL has no `?` inside literals. */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** A second connection on the same SQLite file: WAL lets it read while Prisma's writes. */
export class SqliteReads implements DriverReads {
  private readonly db: BetterSqlite3.Database;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(
    file: string,
    private readonly count: () => void,
  ) {
    const Database = sqliteDatabase();
    this.db = new Database(file, { timeout: 5000 });
  }

  rows(sql: string, params: readonly unknown[]): Promise<unknown[][]> {
    this.count();
    try {
      let statement = this.statements.get(sql);
      if (!statement) {
        statement = this.db.prepare(sql).raw(true);
        this.statements.set(sql, statement);
      }
      return Promise.resolve(statement.all(...params) as unknown[][]);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}

/** Named prepared statements on the pool Prisma's adapter also uses. */
export class PostgresReads implements DriverReads {
  private readonly names = new Map<string, { name: string; text: string }>();

  constructor(
    readonly pool: Pool,
    private readonly count: () => void,
  ) {}

  async rows(sql: string, params: readonly unknown[]): Promise<unknown[][]> {
    let prepared = this.names.get(sql);
    if (!prepared) {
      prepared = { name: `keymeter_${this.names.size + 1}`, text: numberedPlaceholders(sql) };
      this.names.set(sql, prepared);
    }
    this.count();
    const result = await this.pool.query<unknown[]>({
      ...prepared,
      values: params as unknown[],
      rowMode: 'array',
    });
    return result.rows;
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

export function postgresPool(database: Extract<DatabaseConfig, { provider: 'postgresql' }>): Pool {
  const pool = new Pool({ connectionString: database.url });
  // The server closing an idle connection (restart, pg_terminate_backend) is an 'error' event on
  // the pool, which would end the process without a listener; Prisma's adapter listens only
  // while connected. The pool opens a new connection for the next query.
  const logger = new Logger('PostgresPool');
  pool.on('error', (error) => logger.warn(`an idle connection was closed: ${error.message}`));
  return pool;
}
