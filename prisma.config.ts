import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

// The Prisma CLI refuses to run `generate` or `migrate diff` unless its native engine files
// exist, even though keymeter never runs them: the client is Rust-free (driver adapters), the
// CLI's schema engine is the JavaScript/wasm one below, and migrations are applied by
// src/prisma/migrator.ts. The native engines would come from Prisma's CDN, which these machines
// cannot reach, so point the CLI at any existing file.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
process.env.PRISMA_QUERY_ENGINE_LIBRARY ??= process.execPath;

// Only scripts/migration.mjs needs an adapter (`migrate diff` between two datamodels). The wasm
// schema engine wants a live connection of the target provider even for that: an in-memory
// SQLite database, or the PostgreSQL at KEYMETER_DIFF_POSTGRES_URL (nothing is written to it).
const diffProvider = process.env.KEYMETER_DIFF_PROVIDER ?? 'sqlite';
const postgresUrl =
  process.env.KEYMETER_DIFF_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export default defineConfig({
  schema: path.join('prisma', 'schema.prisma'),
  experimental: { adapter: true },
  engine: 'js',
  adapter: async () =>
    diffProvider === 'postgresql'
      ? new PrismaPg({ connectionString: postgresUrl })
      : new PrismaBetterSQLite3({ url: ':memory:' }),
});
