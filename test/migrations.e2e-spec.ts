import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import type { DatabaseConfig } from '../src/config/config';
import { migrate, MigrationError } from '../src/prisma/migrator';
import { Provider, providers, startApp } from './helpers/app';
import { createDatabase, dropDatabase } from './helpers/postgres';

const TABLE = '_keymeter_migrations';
const ROOT = path.resolve(__dirname, '..');

/** The migration folders of `provider`, read here independently of the migrator. */
function migrationNames(provider: Provider): string[] {
  return readdirSync(path.join(ROOT, 'prisma', 'migrations', provider), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

function checksumOf(provider: Provider, name: string): string {
  const file = path.join(ROOT, 'prisma', 'migrations', provider, name, 'migration.sql');
  return createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex');
}

/** One throw-away empty database, inspected with the plain drivers (one connection per call). */
interface ScratchDatabase {
  database: DatabaseConfig;
  /** The DATABASE_URL an app started on this database uses. */
  url: string;
  /** Runs `sql` with $1, $2... parameters and returns the rows. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  tables(): Promise<string[]>;
  dispose(): Promise<void>;
}

async function scratchDatabase(provider: Provider): Promise<ScratchDatabase> {
  if (provider === 'sqlite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'keymeter-migrations-'));
    const file = path.join(dir, 'keymeter.db');
    const query = <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
      const db = new Database(file, { timeout: 15_000 });
      try {
        const statement = db.prepare(sql.replace(/\$\d+/g, '?'));
        if (statement.reader) return Promise.resolve(statement.all(...params) as T[]);
        statement.run(...params);
        return Promise.resolve([]);
      } finally {
        db.close();
      }
    };
    return {
      database: { provider, file },
      url: `file:${file}`,
      query,
      tables: async () =>
        (
          await query<{ name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
          )
        ).map((row) => row.name),
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const url = await createDatabase();
  const query = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };
  return {
    database: { provider, url },
    url,
    query,
    tables: async () =>
      (
        await query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        )
      ).map((row) => row.table_name),
    dispose: () => dropDatabase(url),
  };
}

/**
 * Runs migrate() on `database` in `count` separate Node processes at the same moment: each loads
 * the migrator, says it is ready, and waits for the word to go. Resolves with each one's result.
 */
async function migrateInProcesses(database: DatabaseConfig, count: number): Promise<string[][]> {
  const migrator = path.join(ROOT, 'src', 'prisma', 'migrator.ts');
  const script = `
    const { migrate } = require(${JSON.stringify(migrator)});
    process.stdin.once('data', () => {
      migrate(JSON.parse(process.env.KEYMETER_TEST_DATABASE)).then(
        (applied) => process.stdout.write(JSON.stringify(applied) + '\\n', () => process.exit(0)),
        (error) => { console.error(error); process.exit(1); },
      );
    });
    process.stdout.write('ready\\n');
  `;
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, KEYMETER_TEST_DATABASE: JSON.stringify(database) },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const outputs = children.map((child) => {
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<string[]>((resolve, reject) =>
      child.on('close', (code) =>
        code === 0
          ? resolve(JSON.parse(stdout.slice('ready\n'.length)) as string[])
          : reject(new Error(`a migrating process exited with ${code}: ${stderr}`)),
      ),
    );
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.startsWith('ready\n')) resolve();
      });
      exited.then(() => reject(new Error('exited before it was ready')), reject);
    });
    return { ready, exited };
  });
  try {
    await Promise.all(outputs.map((output) => output.ready));
    for (const child of children) child.stdin.end('go\n');
    return await Promise.all(outputs.map((output) => output.exited));
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

/**
 * Applies `names` to `scratch` the way an older build did (SQL and history row, nothing else),
 * so that a later migrate() finds a database as it was before the following migrations.
 */
async function applyByHand(scratch: ScratchDatabase, provider: Provider, names: string[]) {
  const read = (name: string) =>
    readFileSync(path.join(ROOT, 'prisma', 'migrations', provider, name, 'migration.sql'), 'utf8');
  const { database } = scratch;
  if (database.provider === 'sqlite') {
    const db = new Database(database.file);
    try {
      db.exec(
        `CREATE TABLE "${TABLE}" (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`,
      );
      for (const name of names) {
        db.exec(read(name));
        db.prepare(`INSERT INTO "${TABLE}" VALUES (?, ?, ?)`).run(
          name,
          checksumOf(provider, name),
          new Date().toISOString(),
        );
      }
    } finally {
      db.close();
    }
    return;
  }
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(
      `CREATE TABLE "${TABLE}" (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    for (const name of names) {
      await client.query(read(name));
      await client.query(`INSERT INTO "${TABLE}" (name, checksum) VALUES ($1, $2)`, [
        name,
        checksumOf(provider, name),
      ]);
    }
  } finally {
    await client.end();
  }
}

describe.each(providers())('migrations on %s', (provider) => {
  const all = migrationNames(provider);
  const scratches: ScratchDatabase[] = [];
  const fresh = async () => {
    const scratch = await scratchDatabase(provider);
    scratches.push(scratch);
    return scratch;
  };
  const appliedRows = (scratch: ScratchDatabase) =>
    scratch.query<{ name: string; checksum: string }>(
      `SELECT name, checksum FROM "${TABLE}" ORDER BY name`,
    );

  /** The error migrate() rejects with; fails the test if it resolves. */
  const refusal = async (database: DatabaseConfig): Promise<Error> => {
    const outcome = await migrate(database).then(
      (applied) => ({ applied }),
      (error: unknown) => ({ error }),
    );
    if (!('error' in outcome)) throw new Error(`migrate() applied ${outcome.applied.join(', ')}`);
    expect(outcome.error).toBeInstanceOf(MigrationError);
    return outcome.error as Error;
  };

  afterEach(async () => {
    for (const scratch of scratches.splice(0)) await scratch.dispose();
  });

  it('has at least one migration to apply', () => {
    expect(all.length).toBeGreaterThan(0);
    expect(all[0]).toMatch(/^0001_/);
  });

  it('applies every migration to an empty database, once, and nothing the second time', async () => {
    const scratch = await fresh();

    await expect(migrate(scratch.database)).resolves.toEqual(all);
    expect(await scratch.tables()).toEqual(
      expect.arrayContaining(['accounts', 'api_keys', 'usage_minutes', TABLE]),
    );
    await expect(migrate(scratch.database)).resolves.toEqual([]);

    expect(await appliedRows(scratch)).toEqual(
      all.map((name) => ({ name, checksum: checksumOf(provider, name) })),
    );
  });

  it('applies each migration once when four migrate() calls start together', async () => {
    const scratch = await fresh();

    const results = await Promise.all([1, 2, 3, 4].map(() => migrate(scratch.database)));

    expect(results.flat().sort()).toEqual(all);
    expect(results.filter((applied) => applied.length > 0)).toHaveLength(1);
    expect((await appliedRows(scratch)).map((row) => row.name)).toEqual(all);
  });

  it('applies each migration once when four processes migrate at the same moment', async () => {
    const scratch = await fresh();

    const results = await migrateInProcesses(scratch.database, 4);

    expect(results.flat().sort()).toEqual(all);
    expect((await appliedRows(scratch)).map((row) => row.name)).toEqual(all);
    expect(await scratch.tables()).toEqual(
      expect.arrayContaining(['accounts', 'api_keys', 'usage_minutes']),
    );
  }, 120_000);

  it('starts two apps at the same moment on one empty database and both are healthy', async () => {
    const scratch = await fresh();
    const started = await Promise.allSettled([
      startApp(provider, { databaseUrl: scratch.url }),
      startApp(provider, { databaseUrl: scratch.url }),
    ]);
    const apps = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      expect(
        started.map((result) => (result.status === 'fulfilled' ? 'up' : String(result.reason))),
      ).toEqual(['up', 'up']);
      for (const app of apps) {
        const res = await app.http.get('/health').expect(200);
        expect(res.body).toMatchObject({ status: 'ok' });
      }
      expect((await appliedRows(scratch)).map((row) => row.name)).toEqual(all);
    } finally {
      for (const app of apps) await app.close();
    }
  });

  it('back-fills usage_hours from the minutes of a database that predates it', async () => {
    const scratch = await fresh();
    const rollups = all.findIndex((name) => name.endsWith('_usage_rollups'));
    expect(rollups).toBeGreaterThan(0);
    await applyByHand(scratch, provider, all.slice(0, rollups));
    await scratch.query(
      `INSERT INTO accounts (id, email, password_hash, created_at, updated_at)
       VALUES ('a', 'a@example.com', 'x', '2024-01-01', '2024-01-01')`,
    );
    for (const key of ['k1', 'k2']) {
      await scratch.query(
        `INSERT INTO api_keys (id, account_id, name, created_at, updated_at, hash, prefix)
         VALUES ($1, 'a', $2, '2024-01-01', '2024-01-01', $3, 'p')`,
        [key, key, key],
      );
    }
    // Minutes across hour and day boundaries, for two keys, big volumes included.
    for (let i = 0; i < 300; i++) {
      await scratch.query(
        'INSERT INTO usage_minutes (key_id, minute, count, volume) VALUES ($1, $2, $3, $4)',
        [
          i % 3 === 0 ? 'k2' : 'k1',
          28_000_000 + i * 17,
          1 + (i % 7),
          (i * 2_654_435_761) % 2 ** 40,
        ],
      );
    }

    await expect(migrate(scratch.database)).resolves.toEqual(all.slice(rollups));

    const asText = (rows: Record<string, unknown>[]) =>
      rows.map((row) => Object.values(row).map(String));
    const hours = asText(
      await scratch.query(
        'SELECT key_id, hour, count, volume FROM usage_hours ORDER BY key_id, hour',
      ),
    );
    const sums = asText(
      await scratch.query(
        `SELECT key_id, minute / 60 AS hour, CAST(SUM(count) AS BIGINT) AS c, CAST(SUM(volume) AS BIGINT) AS v
         FROM usage_minutes GROUP BY key_id, minute / 60 ORDER BY key_id, hour`,
      ),
    );
    expect(hours.length).toBeGreaterThan(50);
    expect(hours).toEqual(sums);
  });

  it('refuses to run when an applied migration was edited afterwards', async () => {
    const scratch = await fresh();
    await migrate(scratch.database);
    await scratch.query(`UPDATE "${TABLE}" SET checksum = 'tampered' WHERE name = $1`, [all[0]]);

    const error = await refusal(scratch.database);
    expect(error.message).toContain('edited');
    expect(error.message).toContain(all[0]);
    expect(await appliedRows(scratch)).toContainEqual({ name: all[0], checksum: 'tampered' });
  });

  it('refuses to run when the database has a migration this build does not know', async () => {
    const scratch = await fresh();
    await migrate(scratch.database);
    await scratch.query(`INSERT INTO "${TABLE}" (name, checksum, applied_at) VALUES ($1, $2, $3)`, [
      '9999_future',
      'from a newer build',
      new Date().toISOString(),
    ]);

    const error = await refusal(scratch.database);
    expect(error.message).toContain('unknown');
    expect(error.message).toContain('9999_future');
    expect((await appliedRows(scratch)).map((row) => row.name)).toEqual([...all, '9999_future']);
  });
});

describe('0004_usage_clustered on sqlite', () => {
  const all = migrationNames('sqlite');
  const clustered = all.findIndex((name) => name.endsWith('_usage_clustered'));
  let scratch: ScratchDatabase;

  beforeEach(async () => {
    scratch = await scratchDatabase('sqlite');
  });
  afterEach(() => scratch.dispose());

  const rows = (table: 'usage_minutes' | 'usage_hours', unit: 'minute' | 'hour') =>
    scratch.query<Record<string, unknown>>(
      `SELECT key_id, ${unit}, count, volume FROM ${table} ORDER BY key_id, ${unit}`,
    );

  it('keeps every usage row and the rollup triggers, and stores the rows by key', async () => {
    expect(clustered).toBeGreaterThan(0);
    await applyByHand(scratch, 'sqlite', all.slice(0, clustered));
    await scratch.query(
      `INSERT INTO accounts (id, email, password_hash, created_at, updated_at)
       VALUES ('a', 'a@example.com', 'x', '2024-01-01', '2024-01-01')`,
    );
    for (const key of ['k1', 'k2', 'k3']) {
      await scratch.query(
        `INSERT INTO api_keys (id, account_id, name, created_at, updated_at, hash, prefix)
         VALUES ($1, 'a', $2, '2024-01-01', '2024-01-01', $3, 'p')`,
        [key, key, key],
      );
    }
    // Interleaved as a flush writes them; the triggers of 0003 fill usage_hours.
    for (let i = 0; i < 240; i++) {
      await scratch.query('INSERT INTO usage_minutes VALUES ($1, $2, $3, $4)', [
        ['k1', 'k2', 'k3'][i % 3],
        28_000_000 + Math.floor(i / 3) * 7,
        1 + (i % 5),
        2 ** 40 + i,
      ]);
    }
    const minutesBefore = await rows('usage_minutes', 'minute');
    const hoursBefore = await rows('usage_hours', 'hour');
    expect(hoursBefore.length).toBeGreaterThan(10);

    await expect(migrate(scratch.database)).resolves.toEqual(all.slice(clustered));

    expect(await rows('usage_minutes', 'minute')).toEqual(minutesBefore);
    expect(await rows('usage_hours', 'hour')).toEqual(hoursBefore);
    const definitions = await scratch.query<{ name: string; sql: string }>(
      "SELECT name, sql FROM sqlite_master WHERE name IN ('usage_minutes', 'usage_hours') ORDER BY name",
    );
    expect(definitions.map((d) => d.name)).toEqual(['usage_hours', 'usage_minutes']);
    for (const { sql } of definitions) expect(sql).toMatch(/WITHOUT ROWID\s*$/);

    // The triggers still keep the hours: a new minute, and an additive upsert of an old one.
    await scratch.query('INSERT INTO usage_minutes VALUES ($1, $2, $3, $4)', ['k1', 60, 2, 10]);
    await scratch.query(
      `INSERT INTO usage_minutes VALUES ('k1', 28000000, 3, 30) ON CONFLICT (key_id, minute)
       DO UPDATE SET count = usage_minutes.count + excluded.count,
                     volume = usage_minutes.volume + excluded.volume`,
    );
    const hours = await rows('usage_hours', 'hour');
    const sums = await scratch.query<Record<string, unknown>>(
      `SELECT key_id, minute / 60 AS hour, SUM(count) AS count, SUM(volume) AS volume
       FROM usage_minutes GROUP BY key_id, minute / 60 ORDER BY key_id, hour`,
    );
    expect(hours).toEqual(sums);
    expect(hours).toContainEqual({ key_id: 'k1', hour: 1, count: 2, volume: 10 });
    // Compared by message: better-sqlite3's native addon keeps the SqliteError class of the
    // first test file that loaded it, which is not an Error of this file's realm under Jest.
    const refused = await Promise.resolve()
      .then(() => scratch.query("UPDATE usage_minutes SET minute = 1 WHERE key_id = 'k2'"))
      .then(
        () => 'updated',
        (error: unknown) => String((error as { message?: unknown }).message),
      );
    expect(refused).toContain('cannot change key or minute');

    // Usage still goes with its key.
    await scratch.query("DELETE FROM api_keys WHERE id = 'k3'");
    const left = await scratch.query<{ n: number }>(
      "SELECT (SELECT COUNT(*) FROM usage_minutes WHERE key_id = 'k3') + (SELECT COUNT(*) FROM usage_hours WHERE key_id = 'k3') AS n",
    );
    expect(left).toEqual([{ n: 0 }]);
  });
});

describe.each(providers())('key lifecycle migration on %s', (provider) => {
  const all = migrationNames(provider);
  const lifecycle = all.findIndex((name) => name.endsWith('_key_lifecycle'));
  let scratch: ScratchDatabase;

  beforeEach(async () => {
    scratch = await scratchDatabase(provider);
  });
  afterEach(() => scratch.dispose());

  it('keeps every key and its usage, and live names stay unique', async () => {
    expect(lifecycle).toBeGreaterThan(0);
    await applyByHand(scratch, provider, all.slice(0, lifecycle));
    await scratch.query(
      `INSERT INTO accounts (id, email, password_hash, created_at, updated_at)
       VALUES ('a', 'a@example.com', 'x', '2024-01-01', '2024-01-01')`,
    );
    for (const key of ['k1', 'k2']) {
      await scratch.query(
        `INSERT INTO api_keys (id, account_id, name, created_at, updated_at, hash, prefix)
         VALUES ($1, 'a', $2, '2024-01-01', '2024-01-01', $3, 'p')`,
        [key, key, key],
      );
      await scratch.query('INSERT INTO usage_minutes VALUES ($1, $2, $3, $4)', [key, 60, 5, 7]);
    }
    const usage = () =>
      scratch.query<Record<string, unknown>>(
        'SELECT key_id, minute, count, volume FROM usage_minutes ORDER BY key_id',
      );
    const before = await usage();

    await expect(migrate(scratch.database)).resolves.toEqual(all.slice(lifecycle));

    expect(await usage()).toEqual(before);
    const keys = await scratch.query<Record<string, unknown>>(
      'SELECT id, name, expires_at, superseded_by, lineage_id FROM api_keys ORDER BY id',
    );
    expect(keys).toEqual([
      { id: 'k1', name: 'k1', expires_at: null, superseded_by: '', lineage_id: null },
      { id: 'k2', name: 'k2', expires_at: null, superseded_by: '', lineage_id: null },
    ]);
    const insert = (id: string, supersededBy: string) =>
      scratch.query(
        `INSERT INTO api_keys (id, account_id, name, created_at, updated_at, hash, prefix, superseded_by)
         VALUES ($1, 'a', 'k1', '2024-01-01', '2024-01-01', $2, 'p', $3)`,
        [id, id, supersededBy],
      );
    // A rolled key may share its name with its successor; two live keys may not.
    await scratch.query("UPDATE api_keys SET superseded_by = 'k3' WHERE id = 'k1'");
    await insert('k3', '');
    const refused = await Promise.resolve()
      .then(() => insert('k4', ''))
      .then(
        () => 'inserted',
        (error: unknown) => String((error as { message?: unknown }).message),
      );
    expect(refused).toMatch(/unique/i);
  });
});
