// Databases for the benchmark: throw-away SQLite directories and PostgreSQL databases, and
// direct SQL access to them (bulk seeding, and reading what keymeter wrote, bypassing keymeter).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** A fresh SQLite data directory; keymeter creates keymeter.db in it. */
export class SqliteTarget {
  kind = 'sqlite';

  constructor(root, label) {
    this.dir = mkdtempSync(path.join(root, `${label}-`));
    this.file = path.join(this.dir, 'keymeter.db');
  }

  env() {
    return { DATA_DIR: this.dir };
  }

  describe() {
    return this.file;
  }

  async drop() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A fresh PostgreSQL database on the server of `adminUrl`, dropped afterwards. */
export class PgTarget {
  kind = 'postgresql';

  constructor(adminUrl, label) {
    this.adminUrl = adminUrl;
    this.name =
      `kmbench_${label.replace(/[^a-z0-9_]/gi, '_')}_${process.pid}_${Date.now().toString(36)}`.toLowerCase();
    const url = new URL(adminUrl);
    url.pathname = `/${this.name}`;
    this.url = url.toString();
  }

  static async reachable(adminUrl) {
    const { Client } = require('pg');
    const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      const { rows } = await client.query('SHOW server_version');
      return { ok: true, version: rows[0].server_version };
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : String(error) };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async create() {
    await this.admin(`CREATE DATABASE "${this.name}"`);
    return this;
  }

  env() {
    return { DATABASE_URL: this.url };
  }

  describe() {
    return `PostgreSQL database ${this.name}`;
  }

  async drop() {
    await this.admin(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`);
  }

  async admin(sql) {
    const { Client } = require('pg');
    const client = new Client({ connectionString: this.adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
}

export function newSqliteRoot() {
  return mkdtempSync(path.join(os.tmpdir(), 'keymeter-bench-'));
}

/**
 * Direct SQL on a target's database, with `?` placeholders on both (rewritten to $n for
 * PostgreSQL). Numbers come back as JS numbers.
 */
export class DirectDb {
  static async open(target) {
    const db = new DirectDb();
    db.kind = target.kind;
    if (target.kind === 'sqlite') {
      const Database = require('better-sqlite3');
      db.sqlite = new Database(target.file, { timeout: 15_000 });
      // Seeding writes millions of minutes, each firing the usage_hours trigger: keep its
      // temporary b-trees in memory (about twice as fast).
      db.sqlite.pragma('temp_store = MEMORY');
    } else {
      const { Client } = require('pg');
      db.pg = new Client({ connectionString: target.url });
      await db.pg.connect();
    }
    return db;
  }

  async all(sql, params = []) {
    if (this.sqlite) return this.sqlite.prepare(sql).all(...params);
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    const { rows } = await this.pg.query(text, params);
    return rows;
  }

  async run(sql, params = []) {
    if (this.sqlite) return this.sqlite.prepare(sql).run(...params).changes;
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    return (await this.pg.query(text, params)).rowCount;
  }

  async close() {
    if (this.sqlite) this.sqlite.close();
    if (this.pg) await this.pg.end();
  }

  async version() {
    if (this.sqlite) return this.sqlite.prepare('SELECT sqlite_version() AS v').get().v;
    return (await this.all('SHOW server_version'))[0].server_version;
  }

  /** How each database stores a Prisma DateTime (SQLite: ISO text with +00:00). */
  timestamp(ms = Date.now()) {
    const iso = new Date(ms).toISOString();
    return this.sqlite ? iso.replace('Z', '+00:00') : iso;
  }

  /**
   * Inserts `keys` ({key, hash, prefix, name}) into an account, as keymeter would with
   * KEY_STORAGE=hashed (no ciphertext: listings show them masked). Returns their ids in order.
   */
  async insertKeys(accountId, keys) {
    const ids = keys.map(() => randomUUID());
    const stamp = this.timestamp();
    if (this.sqlite) {
      const insert = this.sqlite.prepare(
        `INSERT INTO api_keys (id, account_id, name, is_master, is_active, created_at, updated_at, hash, prefix)
         VALUES (?, ?, ?, 0, 1, ?, ?, ?, ?)`,
      );
      this.sqlite.transaction(() => {
        keys.forEach((k, i) =>
          insert.run(ids[i], accountId, k.name, stamp, stamp, k.hash, k.prefix),
        );
      })();
      return ids;
    }
    for (let i = 0; i < keys.length; i += 5000) {
      const slice = keys.slice(i, i + 5000);
      await this.pg.query(
        `INSERT INTO api_keys (id, account_id, name, is_master, is_active, created_at, updated_at, hash, prefix)
         SELECT id, $2, name, false, true, $3::timestamp(3), $3::timestamp(3), hash, prefix
         FROM unnest($1::text[], $4::text[], $5::text[], $6::text[]) AS t(id, name, hash, prefix)`,
        [
          ids.slice(i, i + 5000),
          accountId,
          stamp,
          slice.map((k) => k.name),
          slice.map((k) => k.hash),
          slice.map((k) => k.prefix),
        ],
      );
    }
    return ids;
  }

  /**
   * Dense minute data for one key: every minute of [fromMinute, toMinute] gets a count of 1-10
   * and a volume of 0-9999 bytes. Returns the sums inserted.
   */
  async insertDenseUsage(keyId, fromMinute, toMinute) {
    if (this.sqlite) {
      const insert = this.sqlite.prepare(
        'INSERT INTO usage_minutes (key_id, minute, count, volume) VALUES (?, ?, ?, ?)',
      );
      this.sqlite.transaction(() => {
        for (let m = fromMinute; m <= toMinute; m++) {
          insert.run(keyId, m, 1 + (m % 10), (m * 7919) % 10_000);
        }
      })();
    } else {
      await this.pg.query(
        `INSERT INTO usage_minutes (key_id, minute, count, volume)
         SELECT $1, m, 1 + (m % 10), (m::bigint * 7919) % 10000 FROM generate_series($2::int, $3::int) AS m`,
        [keyId, fromMinute, toMinute],
      );
      // Fresh statistics, as autovacuum would have them on a database that grew to this size.
      await this.pg.query('ANALYZE usage_minutes');
    }
    return this.usageSums(keyId, fromMinute, toMinute);
  }

  /** Sparse history for many keys: one bucket every `step` minutes over the range. */
  async insertSparseUsage(keyIds, fromMinute, toMinute, step) {
    if (this.sqlite) {
      const insert = this.sqlite.prepare(
        'INSERT INTO usage_minutes (key_id, minute, count, volume) VALUES (?, ?, ?, ?)',
      );
      this.sqlite.transaction(() => {
        for (const id of keyIds) {
          for (let m = fromMinute; m <= toMinute; m += step) insert.run(id, m, 3, 1234);
        }
      })();
    } else {
      await this.pg.query(
        `INSERT INTO usage_minutes (key_id, minute, count, volume)
         SELECT k, m, 3, 1234 FROM unnest($1::text[]) AS k, generate_series($2::int, $3::int, $4::int) AS m`,
        [keyIds, fromMinute, toMinute, step],
      );
      await this.pg.query('ANALYZE usage_minutes');
      await this.pg.query('ANALYZE api_keys');
    }
  }

  async usageSums(keyId, fromMinute, toMinute) {
    const [row] = await this.all(
      `SELECT COUNT(*) AS n, COALESCE(SUM(count), 0) AS c, COALESCE(SUM(volume), 0) AS v
       FROM usage_minutes WHERE key_id = ? AND minute BETWEEN ? AND ?`,
      [keyId, fromMinute, toMinute],
    );
    return { rows: Number(row.n), count: Number(row.c), volume: Number(row.v) };
  }

  /**
   * Per key of the account: the stored totals (api_keys) and the sum of its minute buckets
   * (usage_minutes), exactly as written by keymeter's flushes.
   */
  async accountUsage(accountId) {
    const keys = await this.all(
      'SELECT id, usage_count AS c, usage_volume AS v FROM api_keys WHERE account_id = ?',
      [accountId],
    );
    const buckets = await this.all(
      `SELECT u.key_id AS id, SUM(u.count) AS c, SUM(u.volume) AS v
       FROM usage_minutes u JOIN api_keys k ON k.id = u.key_id
       WHERE k.account_id = ? GROUP BY u.key_id`,
      [accountId],
    );
    const out = new Map();
    for (const k of keys) {
      out.set(k.id, { count: Number(k.c), volume: Number(k.v), bucketCount: 0, bucketVolume: 0 });
    }
    for (const b of buckets) {
      const entry = out.get(b.id);
      if (entry) {
        entry.bucketCount = Number(b.c);
        entry.bucketVolume = Number(b.v);
      }
    }
    return out;
  }
}

/** A scenario's `skip` for those that need several instances on one database. */
export const postgresqlOnly = (ctx) =>
  ctx.kind === 'postgresql'
    ? null
    : 'PostgreSQL only: instances share a database there, SQLite has one instance per file';
