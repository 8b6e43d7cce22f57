// Derives each provider's Prisma schema from the one datamodel (prisma/schema.prisma).
// Only the datasource provider/url and the generator output differ between providers.
import { readFileSync } from 'node:fs';

export const PROVIDERS = ['sqlite', 'postgresql'];
export const DATAMODEL = 'prisma/schema.prisma';

// The derived schemas are written to prisma/generated/, so the client output becomes
// prisma/generated/<provider>.
export function deriveSchema(datamodel, provider) {
  let out = datamodel.replace(
    /output\s*=\s*"\.\/generated\/sqlite"/,
    `output     = "./${provider}"`,
  );
  if (provider !== 'sqlite') {
    out = out
      .replace(/provider\s*=\s*"sqlite"/, `provider = "${provider}"`)
      .replace(/url\s*=\s*"file:[^"]*"/, 'url      = env("DATABASE_URL")');
  }
  if ((provider !== 'sqlite' && out.includes('"sqlite"')) || !out.includes(`"./${provider}"`)) {
    throw new Error(
      `could not derive the ${provider} schema: the datasource or generator block changed shape`,
    );
  }
  return out;
}

export function readDatamodel(file = DATAMODEL) {
  return readFileSync(file, 'utf8');
}
