import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma/prisma.service';

/** A live or expired session as the rest of keymeter sees it: never its token or hash. */
export interface StoredSession {
  id: string;
  accountId: string;
  email: string;
  createdAt: Date;
  expiresAt: Date;
  /** The account's master key, which a session stands in for. */
  masterKey: { id: string; name: string } | null;
}

@Injectable()
export class SessionsRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(accountId: string, tokenHash: string, expiresAt: Date): Promise<void> {
    await this.prisma.db.session.create({ data: { accountId, tokenHash, expiresAt } });
  }

  async findByTokenHash(tokenHash: string): Promise<StoredSession | null> {
    const row = await this.prisma.db.session.findUnique({
      where: { tokenHash },
      select: {
        id: true,
        accountId: true,
        createdAt: true,
        expiresAt: true,
        account: {
          select: {
            email: true,
            // The live master key: a rolled one (superseded) still works until its grace ends.
            apiKeys: {
              where: { isMaster: true, supersededBy: '' },
              select: { id: true, name: true },
              take: 1,
            },
          },
        },
      },
    });
    if (!row) return null;
    return {
      id: row.id,
      accountId: row.accountId,
      email: row.account.email,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      masterKey: row.account.apiKeys[0] ?? null,
    };
  }

  async deleteByTokenHash(tokenHash: string): Promise<void> {
    await this.prisma.db.session.deleteMany({ where: { tokenHash } });
  }

  /** Housekeeping: sessions past their expiry are useless; returns how many went. */
  async deleteExpired(now: Date): Promise<number> {
    const { count } = await this.prisma.db.session.deleteMany({
      where: { expiresAt: { lte: now } },
    });
    return count;
  }
}
