import { Injectable, OnModuleInit } from '@nestjs/common';
import { PrismaService } from '../prisma/prisma.service';
import { UsageMeter } from '../usage/usage-meter.service';
import { RefusalEvents } from '../webhooks/refusal-events';
import type { KeyLimits, Quota } from './limits';
import { PeerInstances } from './peer-instances';
import { QuotaDecision, QuotaLedger } from './quota-ledger';
import { QuotaRepository } from './quota.repository';
import {
  closestToRunningOut,
  LimitState,
  rateLimitHeader,
  rateLimitPolicyHeader,
  secondsUntil,
} from './ratelimit-headers';
import { RateLimiters } from './rate-limiters';
import type { WindowDecision } from './sliding-window';

/** Why a limit refused a request, in the envelope's and verify's code. */
export type LimitCode = 'RATE_LIMITED' | 'USAGE_EXCEEDED' | 'QUOTA_UNAVAILABLE';

/** What the limits answered for one request: the refusal if any, and what to tell the client. */
export interface LimitVerdict {
  refused: LimitCode | null;
  /** Seconds to wait before trying again (Retry-After); null: no time helps (total quota). */
  retryAfterSeconds: number | null;
  /** The limit closest to running out, for the RateLimit headers. */
  closest: LimitState | undefined;
  rate: WindowDecision | null;
  quota: QuotaDecision | null;
}

/** How often idle rate windows are dropped and idle quota leases handed back. */
const SWEEP_MS = 1000;

/**
 * Holds keys to their rate limits and quotas: the rate limit first (in memory), then the quota
 * (in memory from a leased slice; the database only when the slice runs out). A request the
 * quota refuses gives its place in the rate window back, and a refused request is counted apart
 * (UsageMeter.refused), never as a use. Everything a refusal or an admission of a limited key
 * tells the client is in the verdict: `applyHeaders` writes it.
 */
@Injectable()
export class LimitsEnforcer implements OnModuleInit {
  private readonly rates: RateLimiters;
  private readonly ledger: QuotaLedger;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    quotas: QuotaRepository,
    private readonly peers: PeerInstances,
    private readonly meter: UsageMeter,
    prisma: PrismaService,
    private readonly refusals: RefusalEvents,
  ) {
    this.rates = new RateLimiters(() => peers.count);
    this.ledger = new QuotaLedger(quotas);
    // Unused slices go back before the database connection closes.
    prisma.beforeDisconnect(() => this.stop());
  }

  onModuleInit(): void {
    this.timer = setInterval(() => {
      const now = Date.now();
      this.rates.sweep(now);
      void this.ledger.handBackIdle(now);
    }, SWEEP_MS);
    this.timer.unref();
  }

  /** Checks (and, when admitted, consumes) one request of `volume` bytes against `limits`. */
  check(
    keyId: string,
    limits: KeyLimits,
    volume: number,
    nowMs: number,
  ): LimitVerdict | Promise<LimitVerdict> {
    const rate = limits.rateLimit ? this.rates.tryAdmit(keyId, limits.rateLimit, nowMs) : null;
    if (rate && !rate.admitted) {
      return this.refuse(keyId, limits, nowMs, {
        refused: 'RATE_LIMITED',
        retryAfterSeconds: Math.max(1, secondsUntil(rate.retryAfterMs)),
        closest: rateState(limits, rate, this.peers.count),
        rate,
        quota: null,
      });
    }
    if (!limits.quota) return verdict(limits, rate, null, nowMs, this.peers.count);
    const quota = this.ledger.take(keyId, limits.quota, volume, nowMs);
    return quota instanceof Promise
      ? quota.then(
          (decided) => this.afterQuota(keyId, limits, rate, decided, nowMs),
          () => this.unavailable(keyId, limits, rate, nowMs),
        )
      : this.afterQuota(keyId, limits, rate, quota, nowMs);
  }

  /** What this instance holds unused of a key's current period (reads add it back). */
  held(keyId: string, limits: KeyLimits, nowMs: number): { requests: number; volume: number } {
    return limits.quota ? this.ledger.held(keyId, limits.quota, nowMs) : { requests: 0, volume: 0 };
  }

  /** The quota this instance last admitted the key under (what its metered uses count against). */
  quotaOf(keyId: string): Quota | undefined {
    return this.ledger.quotaOf(keyId);
  }

  /** Forgets a deleted key's windows and slices. */
  forget(keyId: string): void {
    this.rates.forget(keyId);
    this.ledger.forget(keyId);
  }

  /** Hands back every unused slice (shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ledger.handBackIdle(Date.now(), true);
  }

  private afterQuota(
    keyId: string,
    limits: KeyLimits,
    rate: WindowDecision | null,
    quota: QuotaDecision,
    nowMs: number,
  ): LimitVerdict {
    if (quota.admitted) return verdict(limits, rate, quota, nowMs, this.peers.count);
    if (rate) this.rates.unadmit(keyId);
    return this.refuse(keyId, limits, nowMs, {
      refused: 'USAGE_EXCEEDED',
      retryAfterSeconds:
        quota.resetMs === null ? null : Math.max(1, secondsUntil(quota.resetMs - nowMs)),
      closest: closestToRunningOut(quotaStates(limits, quota, nowMs)),
      rate,
      quota,
    });
  }

  /** The counters could not be read: refused, since admitting could pass the quota. */
  private unavailable(
    keyId: string,
    limits: KeyLimits,
    rate: WindowDecision | null,
    nowMs: number,
  ): LimitVerdict {
    if (rate) this.rates.unadmit(keyId);
    return this.refuse(keyId, limits, nowMs, {
      refused: 'QUOTA_UNAVAILABLE',
      retryAfterSeconds: 1,
      closest: undefined,
      rate,
      quota: null,
    });
  }

  private refuse(
    keyId: string,
    limits: KeyLimits,
    nowMs: number,
    refused: LimitVerdict,
  ): LimitVerdict {
    void this.meter.refused(keyId, nowMs)?.catch(() => undefined);
    // A refusal by the key's own limits is news to the API business (usage.rate_limited); the
    // counters being unreachable is keymeter's fault, not the client's.
    if (refused.refused !== 'QUOTA_UNAVAILABLE') {
      this.refusals.refused(keyId, limits, refused.refused!, nowMs);
    }
    return refused;
  }
}

function verdict(
  limits: KeyLimits,
  rate: WindowDecision | null,
  quota: QuotaDecision | null,
  nowMs: number,
  instances: number,
): LimitVerdict {
  const states = quota ? quotaStates(limits, quota, nowMs) : [];
  if (rate) states.push(rateState(limits, rate, instances));
  return {
    refused: null,
    retryAfterSeconds: null,
    closest: closestToRunningOut(states),
    rate,
    quota,
  };
}

/**
 * The rate limit's state as a client sees it: the whole limit, and what is left of this
 * instance's share scaled by the instances sharing it (what a client spread over them has).
 */
function rateState(limits: KeyLimits, rate: WindowDecision, instances: number): LimitState {
  const { limit, windowSeconds } = limits.rateLimit!;
  return {
    policy: 'rate',
    unit: 'requests',
    limit,
    remaining: Math.min(limit, rate.remaining * instances),
    resetSeconds: secondsUntil(rate.resetMs),
    windowSeconds,
  };
}

function quotaStates(limits: KeyLimits, quota: QuotaDecision, nowMs: number): LimitState[] {
  const { requests, volumeBytes, period } = limits.quota!;
  const resetSeconds = quota.resetMs === null ? null : secondsUntil(quota.resetMs - nowMs);
  const windowSeconds = period === 'day' ? 86_400 : period === 'month' ? monthSeconds(nowMs) : null;
  const states: LimitState[] = [];
  if (requests !== null) {
    states.push({
      policy: 'quota',
      unit: 'requests',
      limit: requests,
      remaining: quota.remainingRequests ?? 0,
      resetSeconds,
      windowSeconds,
    });
  }
  if (volumeBytes !== null) {
    states.push({
      policy: 'quota',
      unit: 'content-bytes',
      limit: volumeBytes,
      remaining: quota.remainingVolume ?? 0,
      resetSeconds,
      windowSeconds,
    });
  }
  return states;
}

function monthSeconds(nowMs: number): number {
  const now = new Date(nowMs);
  return (
    (Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) -
      Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)) /
    1000
  );
}

/** Writes the verdict's RateLimit headers (and Retry-After on a refusal) on the response. */
/** Where RateLimit and Retry-After headers go: a response, or a raw upgrade answer's headers. */
export interface LimitHeaderTarget {
  setHeader(name: string, value: string): unknown;
}

export function applyLimitHeaders(response: LimitHeaderTarget, verdict: LimitVerdict): void {
  if (verdict.closest) {
    response.setHeader('RateLimit-Policy', rateLimitPolicyHeader(verdict.closest));
    response.setHeader('RateLimit', rateLimitHeader(verdict.closest));
  }
  if (verdict.retryAfterSeconds !== null) {
    response.setHeader('Retry-After', String(verdict.retryAfterSeconds));
  }
}
