import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { decryptKey, encryptKey, hashKey } from './key-crypto';
import { displayPrefix, generateKey, isWellFormedKey, maskKey } from './key-format';
import { resolveSecret } from './secret';

export interface NewKey {
  key: string;
  hash: string;
  prefix: string;
}

/** Everything keymeter does with key material, under the configured prefix and secret. */
@Injectable()
export class KeyVault {
  private readonly secret: Buffer | null;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.secret = resolveSecret(config);
  }

  get recoverable(): boolean {
    return this.config.keyStorage === 'encrypted' && this.secret !== null;
  }

  create(): NewKey {
    const key = generateKey(this.config.keyPrefix);
    return { key, hash: hashKey(key), prefix: displayPrefix(key, this.config.keyPrefix) };
  }

  isWellFormed(candidate: string): boolean {
    return isWellFormedKey(candidate, this.config.keyPrefix);
  }

  hash(key: string): string {
    return hashKey(key);
  }

  /** The ciphertext to store, or null when keys are kept hashed only. */
  seal(key: string, keyId: string): string | null {
    return this.recoverable && this.secret ? encryptKey(key, this.secret, keyId) : null;
  }

  /** The key to show in a listing: the plaintext when it can be recovered, else the mask. */
  reveal(stored: { id: string; prefix: string; ciphertext: string | null }): string {
    if (this.recoverable && this.secret && stored.ciphertext) {
      return decryptKey(stored.ciphertext, this.secret, stored.id);
    }
    return maskKey(stored.prefix);
  }
}
