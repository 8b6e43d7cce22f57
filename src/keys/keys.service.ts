import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { KeyVault } from '../common/crypto/key-vault.service';
import { UsageMeter } from '../usage/usage-meter.service';
import { UsageService } from '../usage/usage.service';
import { KeyCache } from '../access/key-cache.service';
import { encodeKeyCursor, KeyPagingError, parseKeyPaging } from './key-cursor';
import { KeysRepository, NewKeyRecord, StoredKey } from './keys.repository';

export const MASTER_KEY_NAME = 'master';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The key as listed to its account: the key itself when recoverable, else masked. */
export type KeyView = Pick<
  StoredKey,
  'id' | 'name' | 'isMaster' | 'isActive' | 'createdAt' | 'updatedAt' | 'lastUsedAt' | 'usageCount'
> & { key: string; volume: number };

/** The key lifecycle, for every API surface. Usage totals include what is not yet written. */
@Injectable()
export class KeysService {
  /** Per account, the key creation in progress: creations in one account take turns. */
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(
    private readonly keys: KeysRepository,
    private readonly vault: KeyVault,
    private readonly cache: KeyCache,
    private readonly usage: UsageService,
    private readonly meter: UsageMeter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
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

  /**
   * Adds a key, within MAX_KEYS_PER_ACCOUNT (409 beyond it). Creations in one account take
   * turns on this instance, so parallel requests cannot all pass the count.
   */
  create(accountId: string, name: string): Promise<{ key: string; stored: StoredKey }> {
    const previous = this.creating.get(accountId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.createNow(accountId, name));
    this.creating.set(accountId, next);
    const forget = () => {
      if (this.creating.get(accountId) === next) this.creating.delete(accountId);
    };
    next.then(forget, forget);
    return next;
  }

  private async createNow(
    accountId: string,
    name: string,
  ): Promise<{ key: string; stored: StoredKey }> {
    const max = this.config.maxKeysPerAccount;
    if ((await this.keys.countInAccount(accountId)) >= max) {
      throw new ConflictException(
        `the account already holds ${max} keys, the most allowed (MAX_KEYS_PER_ACCOUNT); ` +
          'delete keys it no longer uses',
      );
    }
    await this.ensureNameFree(accountId, name);
    const { key, record } = this.newKey(name);
    const stored = await this.keys.create(accountId, record);
    this.cache.forgetUnknown(record.hash);
    return { key, stored };
  }

  /**
   * The key named by `ref` (its plaintext or its id) in this account. Anything else, including
   * another account's key, is the same 404.
   */
  async resolve(accountId: string, ref: string): Promise<StoredKey> {
    let key: StoredKey | null = null;
    if (UUID.test(ref)) key = await this.keys.findInAccount(accountId, ref.toLowerCase());
    else if (this.vault.isWellFormed(ref)) {
      key = await this.keys.findInAccountByHash(accountId, this.vault.hash(ref));
    }
    if (!key) throw new NotFoundException('no such API key');
    return key;
  }

  async update(
    accountId: string,
    ref: string,
    changes: { name?: string; isActive?: boolean },
  ): Promise<StoredKey> {
    const key = await this.resolve(accountId, ref);
    if (key.isMaster && changes.isActive === false) {
      throw new BadRequestException('the master key cannot be deactivated');
    }
    if (changes.name !== undefined && changes.name !== key.name) {
      await this.ensureNameFree(accountId, changes.name, key.id);
    }
    const updated = await this.keys.update(key.id, changes);
    this.cache.evict(key.id);
    return updated;
  }

  async delete(accountId: string, ref: string): Promise<void> {
    const key = await this.resolve(accountId, ref);
    if (key.isMaster) throw new BadRequestException('the master key cannot be deleted');
    await this.keys.delete(key.id);
    this.cache.evict(key.id);
    this.meter.forget(key.id);
  }

  /** The account's keys with totals that include this instance's unwritten usage. */
  list(accountId: string): Promise<KeyView[]> {
    return this.usage.consistently(async () => {
      const keys = await this.keys.listByAccount(accountId);
      return keys.map((k) => this.view(k));
    });
  }

  /**
   * One page of the account's keys, oldest first, and the cursor of the next page (null on the
   * last). Without a limit a page holds MAX_KEYS_PER_ACCOUNT keys: all of them.
   */
  page(
    accountId: string,
    paging: { limit?: string; cursor?: string },
  ): Promise<{ keys: KeyView[]; nextCursor: string | null }> {
    let parsed: ReturnType<typeof parseKeyPaging>;
    try {
      parsed = parseKeyPaging(paging.limit, paging.cursor);
    } catch (error) {
      if (error instanceof KeyPagingError) throw new BadRequestException(error.message);
      throw error;
    }
    const { after } = parsed;
    const limit = parsed.limit ?? this.config.maxKeysPerAccount;
    return this.usage.consistently(async () => {
      // One more than the page, to know whether another follows.
      const rows = await this.keys.listPage(accountId, after, limit + 1);
      const keys = rows.slice(0, limit);
      const last = keys[keys.length - 1];
      return {
        keys: keys.map((k) => this.view(k)),
        nextCursor: rows.length > limit ? encodeKeyCursor(last) : null,
      };
    });
  }

  /** One key of the account (by plaintext or id) with its totals. */
  viewOf(accountId: string, ref: string): Promise<KeyView> {
    return this.usage.consistently(async () => this.view(await this.resolve(accountId, ref)));
  }

  /**
   * The key to show for `stored`: `plaintext` when the caller just sent it, else the stored
   * ciphertext opened, else the mask (KEY_STORAGE=hashed).
   */
  display(stored: StoredKey, plaintext?: string): string {
    return plaintext !== undefined && this.vault.isWellFormed(plaintext)
      ? plaintext
      : this.vault.reveal(stored);
  }

  private view(stored: StoredKey): KeyView {
    const key = this.usage.totals(stored);
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

  private async ensureNameFree(accountId: string, name: string, exceptId?: string): Promise<void> {
    if (await this.keys.nameTaken(accountId, name, exceptId)) {
      throw new ConflictException(`a key named "${name}" already exists in this account`);
    }
  }
}
