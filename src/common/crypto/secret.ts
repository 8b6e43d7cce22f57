import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { AppConfig, ConfigError } from '../../config/config';
import { parseSecret } from './key-crypto';

export const SECRET_FILE = 'keymeter.secret';

/**
 * The 32-byte server secret that seals keys. From KEYMETER_SECRET when set; on the embedded
 * SQLite default, generated once into the data directory (mode 0600) and reused after that.
 * PostgreSQL deployments may run several instances, which must share one secret, so there it
 * must be configured (unless KEY_STORAGE=hashed keeps no ciphertext at all).
 */
export function resolveSecret(config: AppConfig, logger = new Logger('Secret')): Buffer | null {
  if (config.secret) return parseSecret(config.secret);
  if (config.keyStorage === 'hashed') return null;
  if (config.database.provider !== 'sqlite') {
    throw new ConfigError(
      'KEYMETER_SECRET is required with PostgreSQL so that every instance seals keys alike ' +
        '(generate one with: openssl rand -hex 32), or set KEY_STORAGE=hashed',
    );
  }
  const file = path.resolve(config.dataDir, SECRET_FILE);
  if (existsSync(file)) return parseSecret(readFileSync(file, 'utf8').trim());
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  logger.warn(
    `KEYMETER_SECRET is not set: generated a new one in ${file} (mode 0600). ` +
      'Back it up with the database: without it, stored keys cannot be shown again.',
  );
  return parseSecret(readFileSync(file, 'utf8').trim());
}
