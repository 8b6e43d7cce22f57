import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { APP_CONFIG, AppConfig } from '../config/config';
import { sameLimits } from '../limits/limits';
import { KeyAccess, KeyAccessRepository } from './key-access.repository';

/** Announcements of an account-wide change carry this before the account's id. */
export const ACCOUNT_PREFIX = 'account:';

/** How long an unknown hash is remembered as unknown: short, so a key made elsewhere works soon. */
const NEGATIVE_TTL_MS = 1000;

function sameAccess(a: KeyAccess, b: KeyAccess): boolean {
  return (
    a.id === b.id &&
    a.accountId === b.accountId &&
    a.name === b.name &&
    a.isMaster === b.isMaster &&
    a.isActive === b.isActive &&
    a.expiresAtMs === b.expiresAtMs &&
    sameLimits(a.limits, b.limits)
  );
}

/**
 * Keys by lookup hash, so that the guard does no database work for a key it has seen recently,
 * and a flood of unknown keys costs one query per distinct key per second. Changes made through
 * this instance evict the key at once; other instances hear of them through KeyChangeChannel
 * (PostgreSQL), or within KEY_CACHE_TTL_MS when that channel is down.
 *
 * Memory is bounded by KEY_CACHE_MAX twice over: at most that many known keys (a few hundred
 * bytes each: only what KeyAccess holds) and, apart, at most that many unknown hashes, so that
 * a flood of forged keys cannot push the keys in use out of the cache.
 */
@Injectable()
export class KeyCache {
  private readonly known: LRUCache<string, KeyAccess>;
  private readonly unknown: LRUCache<string, true>;
  private readonly hashById = new Map<string, string>();
  /** Lookups in flight by hash: concurrent misses of one key share one query. */
  private readonly loading = new Map<string, Promise<KeyAccess | null>>();
  /** Bumped by every eviction: a lookup that started before one must not cache its answer. */
  private generation = 0;
  private readonly evictListeners: ((keyId: string) => void)[] = [];

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly keys: KeyAccessRepository,
  ) {
    this.known = new LRUCache({
      max: config.keyCacheMax,
      ttl: Math.max(config.keyCacheTtlMs, 1),
      ttlAutopurge: false,
      // An expired entry stays until it is looked up again, so that the refresh can keep it.
      noDeleteOnStaleGet: true,
      dispose: (key, hash) => {
        if (this.hashById.get(key.id) === hash) this.hashById.delete(key.id);
      },
    });
    this.unknown = new LRUCache({
      max: config.keyCacheMax,
      ttl: NEGATIVE_TTL_MS,
      ttlAutopurge: false,
      noDeleteOnStaleGet: true,
    });
  }

  /**
   * The key with this lookup hash, or null. Synchronous on a hit, so the hot path does not
   * wait for the database; a miss loads it (or joins the load already under way) and remembers
   * the answer, even "unknown".
   */
  find(hash: string): KeyAccess | null | Promise<KeyAccess | null> {
    const hit = this.get(hash);
    if (hit !== undefined) return hit;
    return this.loading.get(hash) ?? this.load(hash);
  }

  /** The key cached under this hash, if any: only real keys are ever cached as known. */
  knownKey(hash: string): KeyAccess | undefined {
    return this.known.get(hash);
  }

  /** The cached key, `null` for a hash known to be unknown, `undefined` when not cached. */
  get(hash: string): KeyAccess | null | undefined {
    const key = this.known.get(hash);
    if (key !== undefined) return key;
    return this.unknown.has(hash) ? null : undefined;
  }

  /**
   * Remembers what a lookup found, and returns what is now cached for the hash. A refresh that
   * finds the key unchanged keeps the entry already cached (its strings, its hash): every active
   * key is looked up again each KEY_CACHE_TTL_MS, and replacing its entry each time would turn
   * long-lived objects into garbage that only a full collection reclaims.
   */
  set(hash: string, key: KeyAccess | null): KeyAccess | null {
    if (key === null) {
      this.unknown.set(hash, true);
      return null;
    }
    this.unknown.delete(hash);
    const previous = this.known.peek(hash, { allowStale: true });
    const cached = previous !== undefined && sameAccess(previous, key) ? previous : key;
    this.known.set(hash, cached);
    // A refresh brings a new string equal to the hash already held: the cache keeps its first
    // one as the key, so keep that one here too, rather than a second copy (~80 bytes a key).
    if (this.hashById.get(key.id) !== hash) this.hashById.set(key.id, hash);
    return cached;
  }

  /**
   * Forget a key after it changed here (renamed, (de)activated, deleted), and tell the
   * onEvict listeners (KeyChangeChannel, which tells the other instances).
   */
  evict(keyId: string): void {
    this.evictLocally(keyId);
    for (const listener of this.evictListeners) listener(keyId);
  }

  /** Forget a key that changed elsewhere (another instance announced it). */
  evictLocally(keyId: string): void {
    this.invalidateLoads();
    const hash = this.hashById.get(keyId);
    if (hash !== undefined) this.known.delete(hash);
  }

  /**
   * Forget every key of an account after a change to what they all inherit (its default
   * limits), and tell the onEvict listeners, as `account:<id>`.
   */
  evictAccount(accountId: string): void {
    this.evictAccountLocally(accountId);
    for (const listener of this.evictListeners) listener(`${ACCOUNT_PREFIX}${accountId}`);
  }

  /** Forget an account's keys after another instance announced a change to the account. */
  evictAccountLocally(accountId: string): void {
    this.invalidateLoads();
    const hashes: string[] = [];
    for (const [hash, key] of this.known.entries()) {
      if (key.accountId === accountId) hashes.push(hash);
    }
    for (const hash of hashes) this.known.delete(hash);
  }

  /** Forget everything, loads in flight too: changes may have been missed. */
  clear(): void {
    this.invalidateLoads();
    this.known.clear();
    this.unknown.clear();
    this.hashById.clear();
  }

  /**
   * Calls `listener` with the id of every key evicted by a change made here. The publisher
   * registers itself, so that the cache needs no publisher (the publisher needs the cache).
   */
  onEvict(listener: (keyId: string) => void): void {
    this.evictListeners.push(listener);
  }

  /** Forget that a hash was unknown (a key with it was just created). */
  forgetUnknown(hash: string): void {
    this.invalidateLoads();
    this.unknown.delete(hash);
  }

  /** How many known keys and unknown hashes are held (for tests and diagnostics). */
  get size(): { known: number; unknown: number } {
    return { known: this.known.size, unknown: this.unknown.size };
  }

  private load(hash: string): Promise<KeyAccess | null> {
    const started = this.generation;
    const settled = (): void => {
      if (this.loading.get(hash) === lookup) this.loading.delete(hash);
    };
    const lookup = this.keys.findByHash(hash).then(
      (found) => {
        settled();
        return started === this.generation ? this.set(hash, found) : found;
      },
      (error: unknown) => {
        settled();
        throw error;
      },
    );
    this.loading.set(hash, lookup);
    return lookup;
  }

  /**
   * A lookup under way may have read the key before the change: its answer is not cached, and
   * requests from now on start their own instead of joining it (the next request after a PATCH
   * must see the PATCH).
   */
  private invalidateLoads(): void {
    this.generation++;
    this.loading.clear();
  }
}
