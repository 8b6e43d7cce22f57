import { BadRequestException, Injectable } from '@nestjs/common';
import { KeyCache } from '../access/key-cache.service';
import type { Actor } from '../audit/actor';
import type { AuditChanges } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import { PrismaService } from '../prisma/prisma.service';
import {
  LIMIT_SELECT,
  limitChanges,
  limitFields,
  type LimitInput,
  LimitsError,
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
    let changes: Partial<LimitSet>;
    try {
      changes = limitChanges(input);
    } catch (error) {
      if (error instanceof LimitsError) throw new BadRequestException(error.message);
      throw error;
    }
    const before = await this.read(actor.accountId);
    const row = await this.prisma.db.account.update({
      where: { id: actor.accountId },
      data: limitFields(changes),
      select: LIMIT_SELECT,
    });
    const after = limitSetOfRow(row);
    this.cache.evictAccount(actor.accountId);
    const changed: AuditChanges = {};
    for (const field of ['rateLimit', 'quota'] as const) {
      if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) {
        changed[field] = { before: before[field], after: after[field] };
      }
    }
    if (Object.keys(changed).length > 0) {
      await this.audit.record(actor, 'account.limits_changed', null, changed);
    }
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
