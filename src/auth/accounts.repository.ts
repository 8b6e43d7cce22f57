import { Injectable } from '@nestjs/common';
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

  /** The account and its master key, together or not at all. */
  async createWithMasterKey(
    email: string,
    passwordHash: string,
    masterKey: NewKeyRecord,
  ): Promise<{ account: StoredAccount; key: StoredKey }> {
    const account = await this.prisma.db.account.create({
      data: { email, passwordHash, apiKeys: { create: masterKey } },
      include: { apiKeys: true },
    });
    const { apiKeys, ...rest } = account;
    return { account: { ...rest }, key: toStoredKey(apiKeys[0]) };
  }
}
