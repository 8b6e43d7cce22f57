import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { KeyVault } from '../common/crypto/key-vault.service';
import { KeysRepository, NewKeyRecord, StoredKey } from './keys.repository';

export const MASTER_KEY_NAME = 'master';

/** The key as listed to its account: the key itself when recoverable, else masked. */
export interface KeyView {
  id: string;
  name: string;
  key: string;
  isMaster: boolean;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
  usageCount: number;
  volume: number;
}

@Injectable()
export class KeysService {
  constructor(
    private readonly keys: KeysRepository,
    private readonly vault: KeyVault,
  ) {}

  /** A new key's plaintext (returned once) and the record to store for it. */
  newKey(name: string, isMaster = false): { key: string; record: NewKeyRecord } {
    const id = randomUUID();
    const { key, hash, prefix } = this.vault.create();
    return {
      key,
      record: { id, name, isMaster, hash, prefix, ciphertext: this.vault.seal(key, id) },
    };
  }

  async list(accountId: string): Promise<KeyView[]> {
    const keys = await this.keys.listByAccount(accountId);
    return keys.map((k) => this.view(k));
  }

  view(key: StoredKey): KeyView {
    return {
      id: key.id,
      name: key.name,
      key: this.vault.reveal(key),
      isMaster: key.isMaster,
      isActive: key.isActive,
      createdAt: key.createdAt,
      updatedAt: key.updatedAt,
      lastUsedAt: key.lastUsedAt,
      usageCount: key.usageCount,
      volume: key.usageVolume,
    };
  }
}
