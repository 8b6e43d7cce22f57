import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { decryptKey, encryptKey } from '../common/crypto/key-crypto';
import { KeyVault } from '../common/crypto/key-vault.service';
import { resolveSecret } from '../common/crypto/secret';

/** Marks a secret stored as is: there is no server secret to seal it with. */
const PLAIN = 'plain:';

/**
 * Signing secrets at rest: sealed with KEYMETER_SECRET (AES-256-GCM, bound to the endpoint's id)
 * whenever keymeter has one, so a copy of the database cannot forge webhooks. Only with
 * KEY_STORAGE=hashed and no KEYMETER_SECRET are they kept as they are: they must be readable to
 * sign, unlike keys, which only need their hash.
 */
@Injectable()
export class WebhookSecrets {
  private readonly secret: Buffer | null;

  // KeyVault first: it generates the SQLite default's secret file when there is none.
  constructor(@Inject(APP_CONFIG) config: AppConfig, _vault: KeyVault) {
    this.secret = resolveSecret(config);
  }

  seal(secret: string, endpointId: string): string {
    return this.secret ? encryptKey(secret, this.secret, aad(endpointId)) : `${PLAIN}${secret}`;
  }

  open(stored: string, endpointId: string): string {
    if (stored.startsWith(PLAIN)) return stored.slice(PLAIN.length);
    if (!this.secret) throw new Error('a sealed webhook secret needs KEYMETER_SECRET');
    return decryptKey(stored, this.secret, aad(endpointId));
  }
}

const aad = (endpointId: string) => `webhook:${endpointId}`;
