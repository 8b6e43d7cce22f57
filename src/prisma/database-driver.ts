import { Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { DatabaseConfig } from '../config/config';
import { Driver, PostgresDriver, SqliteDriver, WriteStep } from './driver';

/**
 * The driver of the hot paths (see Driver), as its own provider: repositories inject it next to
 * PrismaService. PrismaService opens it once the migrations have run, for both dialects at the
 * same moment (a new SQLite file is created by the migrations, not by this), and closes it last,
 * after the pending usage has been written through it.
 */
@Injectable()
export class DatabaseDriver implements Driver {
  private driver: Driver | undefined;

  open(database: DatabaseConfig, pool: Pool | undefined, onStatement: () => void): void {
    this.driver =
      database.provider === 'sqlite'
        ? new SqliteDriver(database.file, onStatement)
        : new PostgresDriver(pool!, onStatement);
  }

  rows(sql: string, params: readonly unknown[]): Promise<unknown[][]> {
    return this.opened().rows(sql, params);
  }

  writeRows(sql: string, params: readonly unknown[]): Promise<unknown[][]> {
    return this.opened().writeRows(sql, params);
  }

  transaction(steps: readonly WriteStep[]): Promise<void> {
    return this.opened().transaction(steps);
  }

  async close(): Promise<void> {
    await this.driver?.close();
    this.driver = undefined;
  }

  private opened(): Driver {
    if (!this.driver) throw new Error('the database is not connected yet');
    return this.driver;
  }
}
