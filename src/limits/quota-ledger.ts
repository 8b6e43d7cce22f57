import { LRUCache } from 'lru-cache';
import type { Quota } from './limits';
import { sameQuota } from './limits';
import { periodAt } from './periods';
import type { LeaseGrant, LeaseRequest } from './quota.repository';

/** What the ledger needs of the database: QuotaRepository, or a stand-in in unit tests. */
export interface QuotaStore {
  lease(ask: LeaseRequest): Promise<LeaseGrant>;
  handBack(keyId: string, periodStart: number, requests: number, volume: number): Promise<void>;
}

/** The answer for one request, with what is left of the allowance as this instance knows it. */
export interface QuotaDecision {
  admitted: boolean;
  /** Requests (bytes) left in the period; null for a dimension the quota does not limit. */
  remainingRequests: number | null;
  remainingVolume: number | null;
  /** Epoch ms of the period's end; null for a total quota. */
  resetMs: number | null;
}

/** A slice of one key's allowance held by this instance. */
interface Lease {
  keyId: string;
  quota: Quota;
  periodStart: number;
  resetMs: number | null;
  /** Held and not yet used. */
  requests: number;
  volume: number;
  /** The period's counters after this instance's last lease: everything handed out by then. */
  takenRequests: number;
  takenVolume: number;
  extending: Promise<void> | null;
  /** Until then a request that needs a request is refused without asking the database again. */
  exhaustedUntilMs: number;
  /** Likewise for a body of at least `volumeShortOf` bytes (a smaller one may still fit). */
  volumeShortUntilMs: number;
  volumeShortOf: number;
  /** The wait before the next recheck of an exhausted allowance (doubles, see above). */
  recheckMs: number;
  /** Whether the counters were read yet: until then what is left is not known. */
  leased: boolean;
  lastUseMs: number;
}

/** At most this many requests (bytes) per lease: what a crashed instance can strand. */
export const MAX_REQUEST_SLICE = 1000;
export const MAX_VOLUME_SLICE = 16 * 1024 * 1024;
/**
 * An exhausted allowance is asked again after this long (another instance may hand some back),
 * doubling while it stays exhausted, up to EXHAUSTED_RECHECK_MAX_MS: a key refused all month
 * costs a statement every half minute, not every second.
 */
export const EXHAUSTED_RECHECK_MS = 1000;
export const EXHAUSTED_RECHECK_MAX_MS = 30_000;
/** A lease unused this long goes back, so that the other instances can serve from it. */
export const LEASE_IDLE_MS = 10_000;

/** A twentieth of the allowance per lease (20-odd statements per period), within the caps. */
export function sliceOf(limit: number, cap: number): number {
  return Math.max(1, Math.min(cap, Math.ceil(limit / 20)));
}

/**
 * Exact quotas with the database out of the request path. Each instance leases slices of a
 * key's allowance (QuotaRepository.lease: one atomic statement that never takes the counters
 * past the quota) and admits from them in memory, so that a quota of N admits at most N on any
 * number of instances, and exactly N when they are all busy until the end. Unused slices go back
 * when a lease has been idle LEASE_IDLE_MS, when the quota changes, and on stop. An instance
 * killed holding a slice strands what it had not served (at most MAX_REQUEST_SLICE requests)
 * until the period ends: handing it back would need to know what it served after its last write,
 * and guessing could admit beyond the quota.
 */
export class QuotaLedger {
  private readonly leases = new Map<string, Lease>();
  /**
   * The quota each key was last leased under, kept after its lease goes back: a use is metered
   * when its exchange ends, which may be long after the lease went idle (quotaOf).
   */
  private readonly lastQuota = new LRUCache<string, Quota>({ max: 100_000 });
  /** Hand-backs on their way to the database (shutdown waits for them). */
  private readonly returning = new Set<Promise<void>>();

  constructor(private readonly store: QuotaStore) {}

  /** Admits one request of `volume` body bytes under `quota`, consuming it if admitted. */
  take(
    keyId: string,
    quota: Quota,
    volume: number,
    nowMs: number,
  ): QuotaDecision | Promise<QuotaDecision> {
    return this.takeFrom(this.leaseFor(keyId, quota, nowMs), volume, nowMs);
  }

  /** Unused requests and bytes this instance holds of the key's current period (for reads). */
  held(keyId: string, quota: Quota, nowMs: number): { requests: number; volume: number } {
    const lease = this.leases.get(keyId);
    if (
      !lease ||
      !sameQuota(lease.quota, quota) ||
      lease.periodStart !== periodAt(quota.period, nowMs).startMs
    ) {
      return { requests: 0, volume: 0 };
    }
    return { requests: lease.requests, volume: lease.volume };
  }

  /** Hands back the leases idle since `nowMs - LEASE_IDLE_MS` (all of them with `all`). */
  async handBackIdle(nowMs: number, all = false): Promise<void> {
    const returns: Promise<void>[] = [];
    for (const lease of this.leases.values()) {
      if (lease.extending) {
        // On stop, a slice still being leased goes back once it has arrived.
        if (all) returns.push(lease.extending.then(() => this.release(lease)));
        continue;
      }
      if (all || nowMs - lease.lastUseMs >= LEASE_IDLE_MS) returns.push(this.release(lease));
    }
    // With `all` (shutdown), also the hand-backs started earlier and still on their way.
    if (all) returns.push(...this.returning);
    await Promise.allSettled(returns);
  }

  /** The quota a key was last admitted under on this instance, if it was. */
  quotaOf(keyId: string): Quota | undefined {
    return this.leases.get(keyId)?.quota ?? this.lastQuota.get(keyId);
  }

  /** Drops a key's lease without handing it back (the key was deleted with its counters). */
  forget(keyId: string): void {
    this.leases.delete(keyId);
    this.lastQuota.delete(keyId);
  }

  get size(): number {
    return this.leases.size;
  }

  private leaseFor(keyId: string, quota: Quota, nowMs: number): Lease {
    const period = periodAt(quota.period, nowMs);
    const lease = this.leases.get(keyId);
    if (lease && sameQuota(lease.quota, quota) && lease.periodStart === period.startMs)
      return lease;
    // A changed quota's slice goes back first (a past period's too: its counters stay right).
    if (lease) void this.release(lease);
    const fresh: Lease = {
      keyId,
      quota,
      periodStart: period.startMs,
      resetMs: period.resetMs,
      requests: 0,
      volume: 0,
      takenRequests: 0,
      takenVolume: 0,
      extending: null,
      exhaustedUntilMs: 0,
      volumeShortUntilMs: 0,
      volumeShortOf: Infinity,
      recheckMs: EXHAUSTED_RECHECK_MS,
      leased: false,
      lastUseMs: nowMs,
    };
    this.leases.set(keyId, fresh);
    this.lastQuota.set(keyId, quota);
    return fresh;
  }

  private takeFrom(
    lease: Lease,
    volume: number,
    nowMs: number,
  ): QuotaDecision | Promise<QuotaDecision> {
    lease.lastUseMs = nowMs;
    const needsVolume = lease.quota.volumeBytes !== null ? volume : 0;
    const fits =
      lease.leased &&
      (lease.quota.requests === null || lease.requests >= 1) &&
      lease.volume >= needsVolume;
    if (fits) {
      if (lease.quota.requests !== null) lease.requests--;
      lease.volume -= needsVolume;
      return this.decision(lease, true);
    }
    if (this.exhausted(lease, needsVolume, nowMs)) return this.decision(lease, false);
    lease.extending ??= this.extend(lease, needsVolume).finally(() => {
      lease.extending = null;
    });
    return lease.extending.then(() => {
      // The quota changed meanwhile: the request is judged under the new one.
      const current = this.leases.get(lease.keyId);
      if (current !== undefined && current !== lease) return this.takeFrom(current, volume, nowMs);
      // Refused after an extension that got nothing; otherwise try again (the extension may
      // have been shared with other requests that used it up).
      return this.exhausted(lease, needsVolume, nowMs)
        ? this.decision(lease, false)
        : this.takeFrom(lease, volume, nowMs);
    });
  }

  /** Whether a request that does not fit the lease was shown recently not to fit the period. */
  private exhausted(lease: Lease, needsVolume: number, nowMs: number): boolean {
    const requestsOut =
      lease.quota.requests !== null && lease.requests < 1 && nowMs < lease.exhaustedUntilMs;
    const volumeOut =
      needsVolume > lease.volume &&
      nowMs < lease.volumeShortUntilMs &&
      needsVolume >= lease.volumeShortOf;
    return requestsOut || volumeOut;
  }

  private async extend(lease: Lease, volumeNeeded: number): Promise<void> {
    const { quota } = lease;
    const requestsLimit = quota.requests ?? 0;
    const volumeLimit = quota.volumeBytes ?? 0;
    const wantsRequests = quota.requests !== null && lease.requests < 1;
    const wantsVolume = quota.volumeBytes !== null && lease.volume < volumeNeeded;
    const grant = await this.store.lease({
      keyId: lease.keyId,
      periodStart: lease.periodStart,
      requests: wantsRequests ? sliceOf(requestsLimit, MAX_REQUEST_SLICE) : 0,
      requestsLimit,
      volume: wantsVolume
        ? Math.max(sliceOf(volumeLimit, MAX_VOLUME_SLICE), volumeNeeded - lease.volume)
        : 0,
      volumeLimit,
      volumeNeeded: wantsVolume ? volumeNeeded - lease.volume : 0,
    });
    lease.leased = true;
    lease.requests += grant.requests;
    lease.volume += grant.volume;
    lease.takenRequests = grant.requestsTaken;
    lease.takenVolume = grant.volumeTaken;
    const requestsOut = wantsRequests && grant.requests === 0;
    const volumeOut = wantsVolume && grant.volume === 0;
    if (requestsOut) lease.exhaustedUntilMs = lease.lastUseMs + lease.recheckMs;
    if (volumeOut) {
      lease.volumeShortUntilMs = lease.lastUseMs + lease.recheckMs;
      lease.volumeShortOf = volumeNeeded;
    } else if (wantsVolume) lease.volumeShortOf = Infinity;
    // Replaced while this lease was asked for (its quota changed): what it got goes back.
    if (this.leases.get(lease.keyId) !== lease) queueMicrotask(() => void this.release(lease));
    lease.recheckMs =
      requestsOut || volumeOut
        ? Math.min(EXHAUSTED_RECHECK_MAX_MS, lease.recheckMs * 2)
        : EXHAUSTED_RECHECK_MS;
  }

  private async release(lease: Lease): Promise<void> {
    if (this.leases.get(lease.keyId) === lease) this.leases.delete(lease.keyId);
    const { requests, volume } = lease;
    lease.requests = 0;
    lease.volume = 0;
    if (requests === 0 && volume === 0) return;
    const returned = this.store.handBack(lease.keyId, lease.periodStart, requests, volume);
    this.returning.add(returned);
    try {
      await returned;
    } finally {
      this.returning.delete(returned);
    }
  }

  private decision(lease: Lease, admitted: boolean): QuotaDecision {
    const { quota } = lease;
    return {
      admitted,
      remainingRequests:
        quota.requests === null
          ? null
          : Math.max(0, quota.requests - lease.takenRequests + lease.requests),
      remainingVolume:
        quota.volumeBytes === null
          ? null
          : Math.max(0, quota.volumeBytes - lease.takenVolume + lease.volume),
      resetMs: lease.resetMs,
    };
  }
}
