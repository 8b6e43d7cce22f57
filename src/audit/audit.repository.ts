import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma/prisma.service';
import type { NewAuditEntry } from './audit-entry';

/** One row of audit_entries, as read back: what was inserted, numbered and dated. */
export interface StoredAuditEntry extends NewAuditEntry {
  seq: number;
  at: Date;
}

export interface AuditFilter {
  accountId: string;
  /** Entries strictly older than this one (the cursor). */
  beforeSeq?: number;
  from?: Date;
  to?: Date;
  action?: string;
  keyId?: string;
}

/** The audit log's table: inserts and reads only (its triggers refuse anything else). */
@Injectable()
export class AuditRepository {
  constructor(private readonly prisma: PrismaService) {}

  async insert(entry: NewAuditEntry): Promise<void> {
    await this.prisma.db.auditEntry.create({ data: entry, select: { seq: true } });
  }

  /** Up to `take` entries matching `filter`, newest first. */
  page(filter: AuditFilter, take: number): Promise<StoredAuditEntry[]> {
    const at = filter.from || filter.to ? { gte: filter.from, lt: filter.to } : undefined;
    return this.prisma.db.auditEntry.findMany({
      where: {
        accountId: filter.accountId,
        seq: filter.beforeSeq === undefined ? undefined : { lt: filter.beforeSeq },
        at,
        action: filter.action,
        keyId: filter.keyId,
      },
      orderBy: { seq: 'desc' },
      take,
    });
  }
}
