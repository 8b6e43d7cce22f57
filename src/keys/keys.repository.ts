import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma/prisma.service';

/** What a key is, as the rest of keymeter sees it: never its hash. */
export interface StoredKey {
  id: string;
  accountId: string;
  name: string;
  isMaster: boolean;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
  usageCount: number;
  usageVolume: number;
  prefix: string;
  ciphertext: string | null;
}

export interface NewKeyRecord {
  id: string;
  name: string;
  isMaster: boolean;
  hash: string;
  prefix: string;
  ciphertext: string | null;
}

const SELECT = {
  id: true,
  accountId: true,
  name: true,
  isMaster: true,
  isActive: true,
  createdAt: true,
  updatedAt: true,
  lastUsedAt: true,
  usageCount: true,
  usageVolume: true,
  prefix: true,
  ciphertext: true,
} as const;

type Row = Omit<StoredKey, 'usageCount' | 'usageVolume'> & {
  usageCount: bigint;
  usageVolume: bigint;
};

export function toStoredKey(row: Row): StoredKey {
  return { ...row, usageCount: Number(row.usageCount), usageVolume: Number(row.usageVolume) };
}

@Injectable()
export class KeysRepository {
  constructor(private readonly prisma: PrismaService) {}

  async findByHash(hash: string): Promise<StoredKey | null> {
    const row = await this.prisma.db.apiKey.findUnique({ where: { hash }, select: SELECT });
    return row && toStoredKey(row);
  }

  async listByAccount(accountId: string): Promise<StoredKey[]> {
    const rows = await this.prisma.db.apiKey.findMany({
      where: { accountId },
      select: SELECT,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map(toStoredKey);
  }

  async findInAccount(accountId: string, id: string): Promise<StoredKey | null> {
    const row = await this.prisma.db.apiKey.findFirst({ where: { id, accountId }, select: SELECT });
    return row && toStoredKey(row);
  }

  async nameTaken(accountId: string, name: string, exceptId?: string): Promise<boolean> {
    const row = await this.prisma.db.apiKey.findUnique({
      where: { accountId_name: { accountId, name } },
      select: { id: true },
    });
    return row !== null && row.id !== exceptId;
  }

  async update(id: string, data: { name?: string; isActive?: boolean }): Promise<StoredKey> {
    const row = await this.prisma.db.apiKey.update({ where: { id }, data, select: SELECT });
    return toStoredKey(row);
  }

  async delete(id: string): Promise<void> {
    await this.prisma.db.apiKey.delete({ where: { id } });
  }

  async create(accountId: string, record: NewKeyRecord): Promise<StoredKey> {
    const row = await this.prisma.db.apiKey.create({
      data: { ...record, accountId },
      select: SELECT,
    });
    return toStoredKey(row);
  }
}
