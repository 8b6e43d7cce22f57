import { skipBanner } from './global-setup';

// Say it again at the end, where people look.
export default function globalTeardown(): void {
  const why = process.env.KEYMETER_TEST_POSTGRES_SKIPPED_WHY;
  if (why) console.warn(skipBanner(why));
}
