import { POSTGRES_ADMIN_URL, POSTGRES_AVAILABLE_ENV, probePostgres } from './postgres';

export const skipBanner = (why: string) =>
  [
    '',
    '!'.repeat(78),
    `!! PostgreSQL e2e tests SKIPPED: ${POSTGRES_ADMIN_URL} is unreachable (${why}).`,
    '!! Only the SQLite half of the e2e suite ran. Start PostgreSQL, or set',
    '!! KEYMETER_TEST_POSTGRES_URL, to run it. CI sets KEYMETER_REQUIRE_POSTGRES=1 and fails.',
    '!'.repeat(78),
    '',
  ].join('\n');

export default async function globalSetup(): Promise<void> {
  const why = await probePostgres();
  process.env[POSTGRES_AVAILABLE_ENV] = why === null ? '1' : '0';
  if (why === null) return;
  if (process.env.KEYMETER_REQUIRE_POSTGRES === '1') {
    throw new Error(`KEYMETER_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: ${why}`);
  }
  process.env.KEYMETER_TEST_POSTGRES_SKIPPED_WHY = why;
  console.warn(skipBanner(why));
}
