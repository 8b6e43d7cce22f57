import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { APP_CONFIG, AppConfig } from '../config/config';
import { KeysRepository, StoredKey } from './keys.repository';

/** How long an unknown hash is remembered as unknown: short, so a key made elsewhere works soon. */
const NEGATIVE_TTL_MS = 1000;
const UNKNOWN = 'unknown' as const;

/**
 * Keys by lookup hash, so that the guard does no database work for a key it has seen recently,
 * and a flood of unknown keys costs one query per distinct key per second. Changes made through
 * this instance evict the key at once; other instances see them within KEY_CACHE_TTL_MS.
 */
@Injectable()
export class KeyCache {
  private readonly byHash: LRUCache<string, StoredKey | typeof UNKNOWN>;
  private readonly hashById = new Map<string, string>();
  /** Bumped by every eviction: a lookup that started before one must not cache its answer. */
  private generation = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly keys: KeysRepository,
  ) {
    this.byHash = new LRUCache({
      max: config.keyCacheMax,
      ttl: Math.max(config.keyCacheTtlMs, 1),
      ttlAutopurge: false,
      dispose: (value) => {
        if (value !== UNKNOWN) this.hashById.delete(value.id);
      },
    });
  }

  /**
   * The key with this lookup hash, or null. Synchronous on a hit, so the hot path does not
   * wait for the database; a miss loads it and remembers the answer, even "unknown".
   */
  find(hash: string): StoredKey | null | Promise<StoredKey | null> {
    const hit = this.get(hash);
    if (hit !== undefined) return hit;
    const started = this.generation;
    return this.keys.findByHash(hash).then((found) => {
      if (started === this.generation) this.set(hash, found);
      return found;
    });
  }

  /** The cached key, `null` for a hash known to be unknown, `undefined` when not cached. */
  get(hash: string): StoredKey | null | undefined {
    const hit = this.byHash.get(hash);
    return hit === UNKNOWN ? null : hit;
  }

  set(hash: string, key: StoredKey | null): void {
    if (key === null) {
      this.byHash.set(hash, UNKNOWN, { ttl: NEGATIVE_TTL_MS });
      return;
    }
    this.byHash.set(hash, key);
    this.hashById.set(key.id, hash);
  }

  /** Forget a key after it changed (renamed, (de)activated, deleted). */
  evict(keyId: string): void {
    this.generation++;
    const hash = this.hashById.get(keyId);
    if (hash !== undefined) this.byHash.delete(hash);
  }

  /** Forget that a hash was unknown (a key with it was just created). */
  forgetUnknown(hash: string): void {
    if (this.byHash.get(hash) === UNKNOWN) this.byHash.delete(hash);
  }
}
