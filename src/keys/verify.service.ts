import { Injectable } from '@nestjs/common';
import { KeyVault } from '../common/crypto/key-vault.service';
import { UsageMeter } from '../usage/usage-meter.service';
import { KeyCache } from './key-cache.service';
import type { KeyAccess } from './keys.repository';
import type { VerifyResultDto } from './dto/verify.dto';

/** Key verification for other services, on the same cache and meter as the guard. */
@Injectable()
export class VerifyService {
  constructor(
    private readonly vault: KeyVault,
    private readonly cache: KeyCache,
    private readonly meter: UsageMeter,
  ) {}

  async verify(accountId: string, candidate: string, volume: number): Promise<VerifyResultDto> {
    const key = await this.lookup(candidate);
    if (!key || key.accountId !== accountId) {
      return { success: true, valid: false, code: 'NOT_FOUND', keyId: null, name: null };
    }
    if (!key.isActive) {
      return { success: true, valid: false, code: 'DISABLED', keyId: key.id, name: key.name };
    }
    await this.meter.record(key.id, volume);
    return { success: true, valid: true, code: 'VALID', keyId: key.id, name: key.name };
  }

  /** The key with this plaintext: cached, and refused without I/O when malformed. */
  async lookup(candidate: string): Promise<KeyAccess | null> {
    if (!this.vault.isWellFormed(candidate)) return null;
    return this.cache.find(this.vault.hash(candidate));
  }
}
