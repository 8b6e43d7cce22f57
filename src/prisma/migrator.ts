import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Client } from 'pg';
import type { DatabaseConfig } from '../config/config';
import { isSqliteBusy, sqliteDatabase } from './sqlite-driver';

/** Where `npm run db:migration` writes the SQL of each provider (same depth from src/ and dist/). */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'prisma', 'migrations');
const TABLE = '_keymeter_migrations';
/** Any constant: the PostgreSQL advisory lock that serialises instances starting together. */
const PG_LOCK_ID = 0x6b6d6967; // "kmig"

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(provider: DatabaseConfig['provider']): Migration[] {
  const dir = path.join(MIGRATIONS_DIR, provider);
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export class MigrationError extends Error {}

function checkHistory(applied: Map<string, string>, migrations: Migration[]): Migration[] {
  for (const [name, checksum] of applied) {
    const known = migrations.find((m) => m.name === name);
    if (!known)
      throw new MigrationError(`the database has migration ${name}, unknown to this build`);
    if (known.checksum !== checksum) {
      throw new MigrationError(`migration ${name} was edited after it was applied`);
    }
  }
  return migrations.filter((m) => !applied.has(m.name));
}

/**
 * Applies the provider's pending migrations, each once, in order, each in its own transaction
 * and recorded in _keymeter_migrations. Returns the names applied. Uses the plain drivers:
 * Prisma's own `migrate deploy` needs a native engine these machines cannot download.
 */
export async function migrate(database: DatabaseConfig): Promise<string[]> {
  const migrations = loadMigrations(database.provider);
  return database.provider === 'sqlite'
    ? migrateSqlite(database.file, migrations)
    : migratePostgres(database.url, migrations);
}

function migrateSqlite(file: string, migrations: Migration[]): string[] {
  mkdirSync(path.dirname(file), { recursive: true });
  const fresh = !existsSync(file);
  const Database = sqliteDatabase();
  const db = new Database(file, { timeout: SQLITE_LOCK_WAIT_MS });
  try {
    // auto_vacuum must be chosen before anything (even the switch to WAL) writes the file.
    if (fresh) db.pragma('auto_vacuum = INCREMENTAL');
    useWal(db);
    db.exec(
      `CREATE TABLE IF NOT EXISTS "${TABLE}" (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`,
    );
    // BEGIN IMMEDIATE takes the write lock first, so two processes cannot both apply one file.
    const run = db.transaction(() => {
      const rows = db.prepare(`SELECT name, checksum FROM "${TABLE}"`).all() as {
        name: string;
        checksum: string;
      }[];
      const pending = checkHistory(new Map(rows.map((r) => [r.name, r.checksum])), migrations);
      for (const m of pending) {
        db.exec(m.sql);
        db.prepare(`INSERT INTO "${TABLE}" VALUES (?, ?, ?)`).run(
          m.name,
          m.checksum,
          new Date().toISOString(),
        );
      }
      return pending.map((m) => m.name);
    });
    return run.immediate();
  } finally {
    db.close();
  }
}

const SQLITE_LOCK_WAIT_MS = 15_000;

/**
 * WAL lets readers run during the metering flush; it is a property of the file. Switching needs
 * the file to itself, and when several processes open a new file at once SQLite can refuse the
 * switch with SQLITE_BUSY at once, without its busy wait: try again until the lock wait is over.
 */
function useWal(db: BetterSqlite3.Database): void {
  const deadline = Date.now() + SQLITE_LOCK_WAIT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      if (db.pragma('journal_mode = WAL', { simple: true }) === 'wal') return;
    } catch (error) {
      if (!isSqliteBusy(error) || Date.now() > deadline) throw error;
      Atomics.wait(pause, 0, 0, 10 + Math.random() * 20);
      continue;
    }
    throw new MigrationError(`${db.name} cannot be switched to WAL journal mode`);
  }
}

async function migratePostgres(url: string, migrations: Migration[]): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    // Held for the whole run: a second instance waits here, then finds nothing pending.
    await client.query('SELECT pg_advisory_lock($1)', [PG_LOCK_ID]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${TABLE}" (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ name: string; checksum: string }>(
      `SELECT name, checksum FROM "${TABLE}"`,
    );
    const pending = checkHistory(new Map(rows.map((r) => [r.name, r.checksum])), migrations);
    for (const m of pending) {
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(`INSERT INTO "${TABLE}" (name, checksum) VALUES ($1, $2)`, [
          m.name,
          m.checksum,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    return pending.map((m) => m.name);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PG_LOCK_ID]).catch(() => undefined);
    await client.end();
  }
}
