import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The PostgreSQL server the e2e suite creates its throw-away databases on. */
export const POSTGRES_ADMIN_URL =
  process.env.KEYMETER_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Set by global-setup: '1' when POSTGRES_ADMIN_URL answered. */
export const POSTGRES_AVAILABLE_ENV = 'KEYMETER_TEST_POSTGRES_AVAILABLE';

export async function probePostgres(): Promise<string | null> {
  const client = new Client({
    connectionString: POSTGRES_ADMIN_URL,
    connectionTimeoutMillis: 3000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function admin<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** A new empty database for one suite; returns its URL. */
export async function createDatabase(): Promise<string> {
  const name = `keymeter_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^keymeter_test_\w+$/.test(name)) throw new Error(`refusing to drop ${name}`);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
