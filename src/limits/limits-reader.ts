import { Injectable } from '@nestjs/common';
import type { KeyLimits, LimitSource, Quota, RateLimit } from './limits';
import { LimitsEnforcer } from './limits-enforcer';
import { periodAt } from './periods';
import { QuotaRepository } from './quota.repository';

export interface RateLimitView extends RateLimit {
  source: LimitSource;
}

export interface QuotaView {
  requests?: number;
  volumeBytes?: number;
  period: Quota['period'];
  source: LimitSource;
  /**
   * What the current period has used of each limited dimension: served by every instance, plus
   * slices other instances hold.
   */
  used: { requests?: number; volumeBytes?: number };
  /** When the period's allowance resets; null for a total quota. */
  resetsAt: Date | null;
}

/** A key's limits as its representation shows them; each field only when that limit is set. */
export interface LimitsView {
  rateLimit?: RateLimitView;
  quota?: QuotaView;
}

/**
 * A key's limits in effect and its current period's consumption, for the keys API. The counters
 * hold what every instance has leased; this instance's unused slice is taken off, so on one
 * instance the figure is exact, and with several it is at most the other instances' unused
 * slices above what was served.
 */
@Injectable()
export class LimitsReader {
  constructor(
    private readonly quotas: QuotaRepository,
    private readonly enforcer: LimitsEnforcer,
  ) {}

  async describe(keyId: string, limits: KeyLimits | null, nowMs = Date.now()): Promise<LimitsView> {
    if (limits === null) return {};
    const view: LimitsView = {};
    if (limits.rateLimit) view.rateLimit = { ...limits.rateLimit, source: limits.rateSource };
    const { quota } = limits;
    if (quota) {
      const period = periodAt(quota.period, nowMs);
      const taken = await this.quotas.taken(keyId, period.startMs);
      const held = this.enforcer.held(keyId, limits, nowMs);
      view.quota = {
        ...(quota.requests !== null && { requests: quota.requests }),
        ...(quota.volumeBytes !== null && { volumeBytes: quota.volumeBytes }),
        period: quota.period,
        source: limits.quotaSource,
        used: {
          ...(quota.requests !== null && {
            requests: Math.max(0, taken.requests - held.requests),
          }),
          ...(quota.volumeBytes !== null && {
            volumeBytes: Math.max(0, taken.volume - held.volume),
          }),
        },
        resetsAt: period.resetMs === null ? null : new Date(period.resetMs),
      };
    }
    return view;
  }
}
