// Generates one Prisma client per provider from the one datamodel, so the same build can
// talk to SQLite or PostgreSQL (chosen at start-up from DATABASE_URL).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { deriveSchema, PROVIDERS, readDatamodel } from './prisma-schemas.mjs';

const datamodel = readDatamodel();
mkdirSync('prisma/generated', { recursive: true });
for (const provider of PROVIDERS) {
  const file = `prisma/generated/schema.${provider}.prisma`;
  writeFileSync(file, deriveSchema(datamodel, provider));
  execFileSync(
    process.execPath,
    ['node_modules/prisma/build/index.js', 'generate', '--schema', file],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    },
  );
}
console.log(`keymeter: generated Prisma clients for ${PROVIDERS.join(' and ')}`);
