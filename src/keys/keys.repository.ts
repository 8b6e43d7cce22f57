import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma/prisma.service';

/**
 * What a request with the key needs to know to be let in: all that the key cache holds, so that
 * a cached key costs little memory and carries no totals or dates that would go stale.
 */
export interface KeyAccess {
  id: string;
  accountId: string;
  name: string;
  isMaster: boolean;
  isActive: boolean;
}

/** What a key is, as the rest of keymeter sees it: never its hash. */
export interface StoredKey extends KeyAccess {
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

/**
 * The lookup of every key-cache miss, on the driver with a statement prepared once: through
 * Prisma's query compiler it costs ~100 times the CPU (docs/benchmarks.md, "Where the time goes").
 */
const ACCESS_BY_HASH =
  'SELECT id, account_id, name, is_master, is_active FROM api_keys WHERE hash = ?';

/** Booleans are 0/1 on SQLite, true/false on PostgreSQL. */
const isTrue = (value: unknown): boolean => value === true || value === 1;

export function toKeyAccess([id, accountId, name, isMaster, isActive]: unknown[]): KeyAccess {
  return {
    id: id as string,
    accountId: accountId as string,
    name: name as string,
    isMaster: isTrue(isMaster),
    isActive: isTrue(isActive),
  };
}

export function toStoredKey(row: Row): StoredKey {
  return { ...row, usageCount: Number(row.usageCount), usageVolume: Number(row.usageVolume) };
}

@Injectable()
export class KeysRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The hot path's lookup (every key-cache miss): see ACCESS_BY_HASH. */
  async findByHash(hash: string): Promise<KeyAccess | null> {
    const [row] = await this.prisma.driver.rows(ACCESS_BY_HASH, [hash]);
    return row ? toKeyAccess(row) : null;
  }

  /** The whole key with this hash, when it belongs to the account (the keys API, not hot). */
  async findInAccountByHash(accountId: string, hash: string): Promise<StoredKey | null> {
    const row = await this.prisma.db.apiKey.findFirst({
      where: { hash, accountId },
      select: SELECT,
    });
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
