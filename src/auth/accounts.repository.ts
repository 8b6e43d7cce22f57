import { Injectable } from '@nestjs/common';
import type { NewAuditEntry } from '../audit/audit-entry';
import { PrismaService } from '../prisma/prisma.service';
import { NewKeyRecord, StoredKey, toStoredKey } from '../keys/keys.repository';

export interface StoredAccount {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: Date;
}

@Injectable()
export class AccountsRepository {
  constructor(private readonly prisma: PrismaService) {}

  findByEmail(email: string): Promise<StoredAccount | null> {
    return this.prisma.db.account.findUnique({
      where: { email },
      select: { id: true, email: true, passwordHash: true, createdAt: true },
    });
  }

  /** The account (with the id given), its master key and its audit entry, together or not at all. */
  async createWithMasterKey(
    account: { id: string; email: string; passwordHash: string },
    masterKey: NewKeyRecord,
    audit: NewAuditEntry,
  ): Promise<{ account: StoredAccount; key: StoredKey }> {
    const [created] = await this.prisma.db.$transaction([
      this.prisma.db.account.create({
        data: { ...account, apiKeys: { create: masterKey } },
        include: { apiKeys: true },
      }),
      this.prisma.db.auditEntry.create({ data: audit }),
    ]);
    const { apiKeys, ...rest } = created;
    const { rateLimit, rateWindowSeconds, quotaRequests, quotaVolume, quotaPeriod, ...stored } =
      rest;
    const limits = { rateLimit, rateWindowSeconds, quotaRequests, quotaVolume, quotaPeriod };
    return { account: stored, key: toStoredKey({ ...apiKeys[0], account: limits }) };
  }
}
