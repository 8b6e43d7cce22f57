import { Injectable } from '@nestjs/common';
import { KeyCache } from '../access/key-cache.service';
import type { Actor } from '../audit/actor';
import { AuditService } from '../audit/audit.service';
import { PrismaService } from '../prisma/prisma.service';
import { requestedLimits } from './dto/limits.dto';
import {
  changedLimits,
  LIMIT_SELECT,
  limitFields,
  type LimitInput,
  type LimitSet,
  limitSetOfRow,
} from './limits';

/** The account's default limits as the API shows them: a quota's unset dimension is absent. */
export interface AccountLimits {
  rateLimit: { limit: number; windowSeconds: number } | null;
  quota: { requests?: number; volumeBytes?: number; period: string } | null;
}

function shown(set: LimitSet): AccountLimits {
  const { quota } = set;
  return {
    rateLimit: set.rateLimit,
    quota: quota && {
      ...(quota.requests !== null && { requests: quota.requests }),
      ...(quota.volumeBytes !== null && { volumeBytes: quota.volumeBytes }),
      period: quota.period,
    },
  };
}

/**
 * The account's defaults: the limits every key without its own follows (not the master key).
 * A change reaches the request gate at once on every instance: the account's keys are dropped
 * from the key caches (KeyCache.evictAccount, announced to the other instances).
 */
@Injectable()
export class AccountLimitsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly cache: KeyCache,
    private readonly audit: AuditService,
  ) {}

  async get(accountId: string): Promise<AccountLimits> {
    return shown(await this.read(accountId));
  }

  async set(actor: Actor, input: LimitInput): Promise<AccountLimits> {
    const changes = requestedLimits(input);
    const before = await this.read(actor.accountId);
    const row = await this.prisma.db.account.update({
      where: { id: actor.accountId },
      data: limitFields(changes),
      select: LIMIT_SELECT,
    });
    const after = limitSetOfRow(row);
    this.cache.evictAccount(actor.accountId);
    const changed = changedLimits(before, after);
    if (changed) await this.audit.record(actor, 'account.limits_changed', null, changed);
    return shown(after);
  }

  private async read(accountId: string): Promise<LimitSet> {
    const row = await this.prisma.db.account.findUniqueOrThrow({
      where: { id: accountId },
      select: LIMIT_SELECT,
    });
    return limitSetOfRow(row);
  }
}
