import { loadConfig } from '../config/config';
import { migrate } from './migrator';

// `npm run db:migrate`: applies pending migrations to the configured database and exits.
async function main(): Promise<void> {
  const { database } = loadConfig();
  const applied = await migrate(database);
  const where = database.provider === 'sqlite' ? database.file : 'PostgreSQL';
  console.log(
    applied.length > 0
      ? `Applied ${applied.length} migration(s) to ${where}: ${applied.join(', ')}`
      : `${where} is up to date.`,
  );
}

main().catch((error: unknown) => {
  console.error(`Migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
