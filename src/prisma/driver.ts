import { Logger } from '@nestjs/common';
import type BetterSqlite3 from 'better-sqlite3';
import { Pool, type PoolClient } from 'pg';
import type { DatabaseConfig } from '../config/config';
import { isSqliteBusy, sqliteDatabase } from './sqlite-driver';

/**
 * SQL on the database driver itself, for the few hot paths where Prisma 6's query compiler
 * costs more than the query: it compiles every query in WebAssembly on the event loop, with no
 * plan cache (~680 µs for a key lookup against ~6 µs for a prepared statement). Each SQL text
 * is prepared once and reused; rows come back as arrays of column values, in column order.
 *
 * SQL is written with `?` placeholders, in the order of `params`; PostgreSQL gets `$1..$n`.
 * Integer columns come back as numbers on SQLite and as strings for BIGINT on PostgreSQL, so
 * callers convert with Number(). Everything else goes through Prisma.
 */
export interface Driver {
  rows(sql: string, params: readonly unknown[]): Promise<unknown[][]>;
  /**
   * One writing statement that returns rows (`… RETURNING`). On SQLite it takes the write
   * lock as transaction() does, without a busy wait that would block the event loop.
   */
  writeRows(sql: string, params: readonly unknown[]): Promise<unknown[][]>;
  /**
   * Runs each step's SQL once per parameter list, in order, in one transaction: all of it
   * commits or none. On SQLite the whole transaction runs synchronously, so nothing else on
   * the event loop sees it half done.
   */
  transaction(steps: readonly WriteStep[]): Promise<void>;
  close(): Promise<void>;
}

export interface WriteStep {
  sql: string;
  /** One parameter list per execution of `sql`. */
  runs: readonly (readonly unknown[])[];
  /**
   * Reads what the runs returned (rows of a SELECT or `… RETURNING`, one list per run) and
   * gives the steps that follow them in the same transaction. Synchronous, because SQLite's
   * transaction is: a decision inside a transaction is taken on what it has written so far.
   */
  then?: (results: unknown[][][]) => readonly WriteStep[];
}

/**
 * A BIGINT parameter: a BigInt on SQLite (a number past 2^53 would bind as REAL), decimal text
 * on PostgreSQL (which parses it exactly).
 */
export function bigintParam(dialect: 'sqlite' | 'postgresql', n: number): bigint | string {
  return dialect === 'sqlite' ? BigInt(Math.round(n)) : String(Math.round(n));
}

/** `?` → `$1..$n`, for PostgreSQL. keymeter's SQL has no `?` inside literals. */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** PostgreSQL's deadlock_detected, and how often a transaction it rolled back is run again. */
const DEADLOCK = '40P01';
const DEADLOCK_RETRIES = 3;

/** How long a SQLite write waits for another connection's write lock before it fails. */
const SQLITE_LOCK_WAIT_MS = 5000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A second connection on the same SQLite file: WAL lets it read while Prisma's connection
 * writes. Its writes (usage flushes) take the file's write lock without waiting inside SQLite:
 * a synchronous busy wait would block the event loop, and with it the Prisma transaction that
 * holds the lock. A write that finds the lock taken is tried again a few milliseconds later.
 */
export class SqliteDriver implements Driver {
  private readonly db: BetterSqlite3.Database;
  /** Prepared statements by SQL text: raw (rows as arrays) for reads, plain for writes. */
  private readonly statements = {
    raw: new Map<string, BetterSqlite3.Statement>(),
    plain: new Map<string, BetterSqlite3.Statement>(),
  };
  private readonly runAll: (steps: readonly WriteStep[]) => void;

  constructor(
    file: string,
    private readonly count: () => void,
  ) {
    const Database = sqliteDatabase();
    // Readers of a WAL database are not blocked by writers; the timeout covers the rare wait
    // for a checkpoint or recovery. Writes set their own (zero) wait, see transaction().
    this.db = new Database(file, { timeout: SQLITE_LOCK_WAIT_MS });
    // Per connection, like Prisma's: cascades and power-loss durability.
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = FULL');
    const run = (steps: readonly WriteStep[]): void => {
      for (const step of steps) {
        const statement = this.prepared(step.sql, step.then !== undefined);
        const results: unknown[][][] = [];
        for (const params of step.runs) {
          this.count();
          if (step.then) results.push(statement.all(...params) as unknown[][]);
          else statement.run(...params);
        }
        if (step.then) run(step.then(results));
      }
    };
    const all = this.db.transaction(run);
    this.runAll = (steps) => all.immediate(steps);
  }

  rows(sql: string, params: readonly unknown[]): Promise<unknown[][]> {
    this.count();
    try {
      return Promise.resolve(this.prepared(sql, true).all(...params) as unknown[][]);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  async transaction(steps: readonly WriteStep[]): Promise<void> {
    await this.withoutBusyWait(() => this.runAll(steps));
  }

  writeRows(sql: string, params: readonly unknown[]): Promise<unknown[][]> {
    this.count();
    return this.withoutBusyWait(() => this.prepared(sql, true).all(...params) as unknown[][]);
  }

  /**
   * Runs a write with no busy wait (which would block the event loop, and with it the Prisma
   * transaction that may hold the lock), retrying every few ms for up to SQLITE_LOCK_WAIT_MS.
   */
  private async withoutBusyWait<T>(write: () => T): Promise<T> {
    const deadline = performance.now() + SQLITE_LOCK_WAIT_MS;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      this.db.pragma('busy_timeout = 0');
      try {
        return write();
      } catch (error) {
        if (!isSqliteBusy(error) || performance.now() + wait > deadline) throw error;
      } finally {
        this.db.pragma(`busy_timeout = ${SQLITE_LOCK_WAIT_MS}`);
      }
      await sleep(wait);
    }
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }

  private prepared(sql: string, raw: boolean): BetterSqlite3.Statement {
    const cache = raw ? this.statements.raw : this.statements.plain;
    let statement = cache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      if (raw) statement.raw(true);
      cache.set(sql, statement);
    }
    return statement;
  }
}

/** Named prepared statements on the pool Prisma's adapter also uses. */
export class PostgresDriver implements Driver {
  private readonly names = new Map<string, { name: string; text: string }>();

  constructor(
    readonly pool: Pool,
    private readonly count: () => void,
  ) {}

  async rows(sql: string, params: readonly unknown[]): Promise<unknown[][]> {
    this.count();
    const result = await this.pool.query<unknown[]>({
      ...this.prepared(sql),
      values: params as unknown[],
      rowMode: 'array',
    });
    return result.rows;
  }

  /** A row lock waits in the server, not in this process: the same as rows(). */
  writeRows(sql: string, params: readonly unknown[]): Promise<unknown[][]> {
    return this.rows(sql, params);
  }

  /**
   * Runs the steps in one transaction. PostgreSQL may pick it as the victim of a deadlock with
   * another instance's flush of the same rows (40P01; the row order inside one statement is
   * the planner's): it rolled back whole, so it is run again, up to DEADLOCK_RETRIES times.
   */
  async transaction(steps: readonly WriteStep[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.transactionOnce(steps);
      } catch (error) {
        if ((error as { code?: unknown }).code !== DEADLOCK || attempt >= DEADLOCK_RETRIES) {
          throw error;
        }
        await sleep(5 + Math.random() * 20 * (attempt + 1));
      }
    }
  }

  private async transactionOnce(steps: readonly WriteStep[]): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out client has no listener of the pool's: the server ending the connection
    // mid-transaction (a restart, pg_terminate_backend) fails the query in flight and is then an
    // 'error' event, which would end the process unheard. The client is dropped, not reused.
    const onError = (error: Error) => (broken ??= error);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      await this.run(client, steps);
      await client.query('COMMIT');
    } catch (error) {
      // A connection that cannot even roll back is dropped rather than returned to the pool.
      await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  private async run(client: PoolClient, steps: readonly WriteStep[]): Promise<void> {
    for (const step of steps) {
      const prepared = this.prepared(step.sql);
      const results: unknown[][][] = [];
      for (const params of step.runs) {
        this.count();
        const result = await client.query<unknown[]>({
          ...prepared,
          values: params as unknown[],
          rowMode: 'array',
        });
        if (step.then) results.push(result.rows);
      }
      if (step.then) await this.run(client, step.then(results));
    }
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  private prepared(sql: string): { name: string; text: string } {
    let prepared = this.names.get(sql);
    if (!prepared) {
      prepared = { name: `keymeter_${this.names.size + 1}`, text: numberedPlaceholders(sql) };
      this.names.set(sql, prepared);
    }
    return prepared;
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
